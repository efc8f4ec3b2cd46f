"""/account: password, timezone, two-factor authentication, deletion."""

from __future__ import annotations

import functools
import zoneinfo

import falcon

from hookmail.core.ports import PasswordHasher
from hookmail.core.services import accounts, two_factor, web_sessions
from hookmail.core.throttle import Limits
from hookmail.entrypoints.http.resources.two_factor import qr_png_base64
from hookmail.entrypoints.web.guard import Page
from hookmail.entrypoints.web.site import SESSION_COOKIE, Site, redirect


@functools.cache
def zones() -> list[str]:
    """Every IANA zone name, read once (on the first account page, not at start-up)."""
    return sorted(zoneinfo.available_timezones())


class AccountPage(Page):
    def __init__(self, site: Site, hasher: PasswordHasher, limits: Limits) -> None:
        super().__init__(site)
        self.hasher, self.limits = hasher, limits

    def _show(self, req: falcon.Request, resp: falcon.Response, **values: object) -> None:
        values = {"setup": None, "qr_png": "", "backup_codes": None, **values}
        self.site.render(req, resp, "account.html", zones=zones(), **values)

    def _failing(self, req: falcon.Request, resp: falcon.Response):  # type: ignore[no-untyped-def]
        return self.site.failing_to(resp, lambda alert: self._show(req, resp, alert=alert))

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        self._show(req, resp)

    def on_post_timezone(self, req: falcon.Request, resp: falcon.Response) -> None:
        with self._failing(req, resp):
            accounts.update_timezone(
                self.uow(),
                self.clock,
                account_id=self.account(req).id,
                timezone=self.form(req).get("timezone", ""),
            )
            redirect(resp, "/account", done="timezone")

    def on_post_password(self, req: falcon.Request, resp: falcon.Response) -> None:
        """The API's password change: every session ends, and this browser gets a new one."""
        form = self.form(req)
        with self._failing(req, resp):
            opened = web_sessions.change_password(
                self.uow(),
                self.clock,
                self.hasher,
                self.limits,
                token=req.context.session_token,
                current_password=form.get("current_password", ""),
                new_password=form.get("new_password", ""),
                client=req.context.client,
            )
            self.site.set_cookie(resp, SESSION_COOKIE, opened.token)
            redirect(resp, "/account", done="password")

    def on_post_setup(self, req: falcon.Request, resp: falcon.Response) -> None:
        with self._failing(req, resp):
            setup = two_factor.setup_totp(self.uow(), self.clock, account_id=self.account(req).id)
            self._show(req, resp, setup=setup, qr_png=qr_png_base64(setup.otpauth_url))

    def on_post_enable(self, req: falcon.Request, resp: falcon.Response) -> None:
        with self._failing(req, resp):
            codes = two_factor.enable_totp(
                self.uow(),
                self.clock,
                self.limits,
                account_id=self.account(req).id,
                code=self.form(req).get("code", "").strip(),
                client=req.context.client,
            )
            req.context.account = accounts.get_account(self.uow(), account_id=self.account(req).id)
            self._show(req, resp, backup_codes=codes)

    def on_post_codes(self, req: falcon.Request, resp: falcon.Response) -> None:
        with self._failing(req, resp):
            codes = two_factor.regenerate_backup_codes(
                self.uow(),
                self.clock,
                self.limits,
                account_id=self.account(req).id,
                code=self.form(req).get("code", "").strip(),
                client=req.context.client,
            )
            self._show(req, resp, backup_codes=codes)

    def on_post_disable(self, req: falcon.Request, resp: falcon.Response) -> None:
        with self._failing(req, resp):
            two_factor.disable_totp(
                self.uow(),
                self.clock,
                self.limits,
                account_id=self.account(req).id,
                code=self.form(req).get("code", "").strip(),
                client=req.context.client,
            )
            redirect(resp, "/account", done="disabled_2fa")

    def on_post_delete(self, req: falcon.Request, resp: falcon.Response) -> None:
        form = self.form(req)
        with self._failing(req, resp):
            accounts.delete_account(
                self.uow(),
                self.clock,
                self.hasher,
                self.limits,
                account_id=self.account(req).id,
                password=form.get("password", ""),
                code=form.get("code", "").strip() or None,
                client=req.context.client,
            )
            self.site.drop_cookie(resp, SESSION_COOKIE)
            redirect(resp, "/signin", done="account_deleted")
