"""/forgot-password and /reset-password: the link in the reset mail lands here."""

from __future__ import annotations

import falcon

from hookmail.core.ports import Background, Mailer, PasswordHasher
from hookmail.core.services import accounts
from hookmail.core.throttle import Limits
from hookmail.entrypoints.web.guard import Page
from hookmail.entrypoints.web.site import Site, redirect


class ForgotPassword(Page):
    public = True

    def __init__(
        self,
        site: Site,
        mailer: Mailer,
        limits: Limits,
        background: Background,
        *,
        public_url: str,
    ) -> None:
        super().__init__(site)
        self.mailer, self.limits, self.background = mailer, limits, background
        self.public_url = public_url

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        self.site.render(req, resp, "forgot.html", sent=False)

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        def show(alert: str) -> None:
            self.site.render(req, resp, "forgot.html", sent=False, alert=alert)

        with self.site.failing_to(resp, show):
            accounts.request_password_reset(
                self.uow(),
                self.clock,
                self.mailer,
                self.limits,
                self.background,
                email=self.form(req).get("email", ""),
                client=req.context.client,
                public_url=self.public_url,
            )
            self.site.render(req, resp, "forgot.html", sent=True)


class ResetPassword(Page):
    public = True

    def __init__(self, site: Site, hasher: PasswordHasher, limits: Limits) -> None:
        super().__init__(site)
        self.hasher, self.limits = hasher, limits

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        self.site.render(req, resp, "reset.html", token=req.get_param("token") or "")

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        form = self.form(req)
        token = form.get("token", "")

        def show(alert: str) -> None:
            self.site.render(req, resp, "reset.html", token=token, alert=alert)

        with self.site.failing_to(resp, show):
            accounts.confirm_password_reset(
                self.uow(),
                self.clock,
                self.hasher,
                self.limits,
                token=token,
                new_password=form.get("new_password", ""),
                client=req.context.client,
            )
            redirect(resp, "/signin", done="reset")
