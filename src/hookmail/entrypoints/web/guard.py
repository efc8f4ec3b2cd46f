"""The dashboard's middleware: the session from its cookie, a CSRF check on every form,
sign-in where it is needed, and the headers that keep pages in their own origin."""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.parse import parse_qsl

import falcon

from hookmail.core.accounts import Account
from hookmail.core.errors import InvalidToken
from hookmail.core.services import web_sessions
from hookmail.entrypoints.web.site import (
    CSRF_FIELD,
    PRESESSION_COOKIE,
    SESSION_COOKIE,
    Site,
    csrf_matches,
    csrf_token,
    new_presession,
    redirect,
)

MAX_FORM = 1024 * 1024

# No script at all, nothing from another origin, never inside a frame.
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


class Page:
    """A dashboard resource. Private (signed-in only) unless `public`."""

    public: ClassVar[bool] = False
    __hookmail_public__ = True  # no bearer token: the guard checks the cookie session

    def __init__(self, site: Site) -> None:
        self.site = site
        self.uow, self.clock = site.uow, site.clock

    @staticmethod
    def account(req: falcon.Request) -> Account:
        account: Account = req.context.account
        return account

    @staticmethod
    def form(req: falcon.Request) -> dict[str, str]:
        form: dict[str, str] = req.context.form
        return form


class DashboardGuard:
    def __init__(self, site: Site) -> None:
        self._site = site

    def process_resource(
        self, req: falcon.Request, resp: falcon.Response, resource: object, params: dict[str, Any]
    ) -> None:
        if not isinstance(resource, Page):
            return
        site = self._site
        req.context.dashboard = True
        req.context.account = None
        key = req.cookies.get(SESSION_COOKIE)
        if key:
            try:
                req.context.account = web_sessions.signed_in_account(
                    site.uow(), site.clock, token=key
                )
                req.context.session_token = key
            except InvalidToken:
                site.drop_cookie(resp, SESSION_COOKIE)  # signed out, expired or revoked
                key = None
        if not key:
            key = req.cookies.get(PRESESSION_COOKIE)
            if not key:
                key = new_presession()
                site.set_cookie(resp, PRESESSION_COOKIE, key)
        req.context.csrf = csrf_token(key)
        if req.context.account is None and not resource.public:
            redirect(resp, "/signin")
            resp.complete = True
            return
        if req.method == "POST":
            req.context.form = _read_form(req)
            if not csrf_matches(key, req.context.form.get(CSRF_FIELD, "")):
                resp.status = falcon.HTTP_403
                site.render(req, resp, "refused.html")
                resp.complete = True

    def process_response(
        self, req: falcon.Request, resp: falcon.Response, resource: object, succeeded: bool
    ) -> None:
        if isinstance(resource, Page) or req.path.startswith("/static/"):
            for name, value in HEADERS.items():
                resp.set_header(name, value)
        if req.path.startswith("/static/"):  # the stylesheet may be kept; pages never
            resp.set_header("Cache-Control", "public, max-age=3600")


def _read_form(req: falcon.Request) -> dict[str, str]:
    """The urlencoded body (at most 1 MiB); a field given twice keeps its last value."""
    if req.content_length is not None and req.content_length > MAX_FORM:
        raise falcon.HTTPContentTooLarge(description="the form is over 1 MiB")
    raw = req.bounded_stream.read(MAX_FORM + 1)
    if len(raw) > MAX_FORM:
        raise falcon.HTTPContentTooLarge(description="the form is over 1 MiB")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise falcon.HTTPBadRequest(description="the form is not UTF-8") from None
    return dict(parse_qsl(text, keep_blank_values=True))
