"""Sign up, sign in (with the TOTP step) and sign out."""

from __future__ import annotations

import falcon

from hookmail.core.ports import EmailSyntax, PasswordHasher
from hookmail.core.services import accounts, web_sessions
from hookmail.core.services.sessions import TotpChallenge
from hookmail.core.throttle import Limits
from hookmail.core.tokens import CHALLENGE_TTL
from hookmail.entrypoints.web.guard import Page
from hookmail.entrypoints.web.site import (
    CHALLENGE_COOKIE,
    SESSION_COOKIE,
    Shower,
    Site,
    redirect,
)


class SignUp(Page):
    public = True

    def __init__(
        self, site: Site, hasher: PasswordHasher, emails: EmailSyntax, limits: Limits
    ) -> None:
        super().__init__(site)
        self.hasher, self.emails, self.limits = hasher, emails, limits

    def _show(self, req: falcon.Request, resp: falcon.Response, email: str) -> Shower:
        return lambda alert: self.site.render(req, resp, "signup.html", email=email, alert=alert)

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        self.site.render(req, resp, "signup.html", email="")

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        form = self.form(req)
        email = form.get("email", "")
        with self.site.failing_to(resp, self._show(req, resp, email)):
            accounts.sign_up(
                self.uow(),
                self.clock,
                self.hasher,
                self.emails,
                self.limits,
                email=email,
                password=form.get("password", ""),
                client=req.context.client,
            )
            redirect(resp, "/signin", done="signed_up")


class SignIn(Page):
    public = True

    def __init__(self, site: Site, hasher: PasswordHasher, limits: Limits) -> None:
        super().__init__(site)
        self.hasher, self.limits = hasher, limits

    def _show(self, req: falcon.Request, resp: falcon.Response, email: str) -> Shower:
        return lambda alert: self.site.render(req, resp, "signin.html", email=email, alert=alert)

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        if req.context.account is not None:
            redirect(resp, "/")
            return
        self.site.render(req, resp, "signin.html", email="")

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        form = self.form(req)
        email = form.get("email", "")
        with self.site.failing_to(resp, self._show(req, resp, email)):
            outcome = web_sessions.sign_in(
                self.uow(),
                self.clock,
                self.hasher,
                self.limits,
                email=email,
                password=form.get("password", ""),
                client=req.context.client,
            )
            if isinstance(outcome, TotpChallenge):
                max_age = int(CHALLENGE_TTL.total_seconds())
                self.site.set_cookie(resp, CHALLENGE_COOKIE, outcome.token, max_age=max_age)
                self.site.render(req, resp, "signin_code.html")
                return
            self.site.set_cookie(resp, SESSION_COOKIE, outcome.token)
            redirect(resp, "/")

    def on_post_code(self, req: falcon.Request, resp: falcon.Response) -> None:
        """The TOTP step: the challenge waits in a short-lived cookie."""
        challenge = req.cookies.get(CHALLENGE_COOKIE, "")
        with self.site.failing_to(
            resp, lambda alert: self.site.render(req, resp, "signin_code.html", alert=alert)
        ):
            opened = web_sessions.complete_totp(
                self.uow(),
                self.clock,
                self.limits,
                challenge=challenge,
                code=self.form(req).get("code", "").strip(),
                client=req.context.client,
            )
            self.site.drop_cookie(resp, CHALLENGE_COOKIE)
            self.site.set_cookie(resp, SESSION_COOKIE, opened.token)
            redirect(resp, "/")


class SignOut(Page):
    public = True  # signing out with a dead session still clears the cookie

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        token = req.cookies.get(SESSION_COOKIE)
        if token:
            web_sessions.sign_out(self.uow(), token=token)
        self.site.drop_cookie(resp, SESSION_COOKIE)
        redirect(resp, "/signin")
