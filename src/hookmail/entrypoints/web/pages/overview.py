"""/: the overview when signed in, the sign-in page otherwise."""

from __future__ import annotations

import falcon

from hookmail.core.services.overview import overview
from hookmail.entrypoints.web.chart import chart
from hookmail.entrypoints.web.guard import Page


class Overview(Page):
    public = True

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        account = req.context.account
        if account is None:
            self.site.render(req, resp, "signin.html", email="")
            return
        report = overview(self.uow(), self.clock, account_id=account.id)
        graph = chart(report.hours, account.timezone)
        self.site.render(req, resp, "overview.html", report=report, graph=graph)
