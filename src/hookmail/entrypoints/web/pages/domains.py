"""/domains: claim, the records to publish, verify, delete."""

from __future__ import annotations

from uuid import UUID

import falcon

from hookmail.core.ports import TxtResolver
from hookmail.core.quotas import Quotas
from hookmail.core.services import domains
from hookmail.entrypoints.web.guard import Page
from hookmail.entrypoints.web.site import Site, redirect


class Domains(Page):
    def __init__(self, site: Site, dns: TxtResolver, quotas: Quotas) -> None:
        super().__init__(site)
        self.dns, self.quotas = dns, quotas

    def _show(self, req: falcon.Request, resp: falcon.Response, alert: str | None = None) -> None:
        account = self.account(req)
        found = domains.list_domains(self.uow(), account_id=account.id)
        self.site.render(
            req,
            resp,
            "domains.html",
            domains=found,
            mx_host=self.site.smtp_hostname,
            alert=alert,
            name=self.form(req).get("name", "") if req.method == "POST" else "",
        )

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        self._show(req, resp)

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        with self.site.failing_to(resp, lambda alert: self._show(req, resp, alert)):
            domains.claim_domain(
                self.uow(),
                self.clock,
                self.quotas,
                account_id=self.account(req).id,
                name=self.form(req).get("name", ""),
            )
            redirect(resp, "/domains", done="claimed")

    def on_post_verify(self, req: falcon.Request, resp: falcon.Response, id: UUID) -> None:
        with self.site.failing_to(resp, lambda alert: self._show(req, resp, alert)):
            account_id = self.account(req).id
            domains.verify_domain(
                self.uow(), self.clock, self.dns, account_id=account_id, domain_id=id
            )
            redirect(resp, "/domains", done="verified")

    def on_post_delete(self, req: falcon.Request, resp: falcon.Response, id: UUID) -> None:
        with self.site.failing_to(resp, lambda alert: self._show(req, resp, alert)):
            domains.delete_domain(self.uow(), account_id=self.account(req).id, domain_id=id)
            redirect(resp, "/domains", done="deleted")
