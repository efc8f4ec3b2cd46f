"""What every page shares: collaborators, templates, cookies, CSRF tokens, redirects."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import falcon
from attrs import frozen
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from hookmail.core.accounts import Account
from hookmail.core.errors import DomainError, InvalidField, RateLimited
from hookmail.core.ports import Clock
from hookmail.entrypoints.http.context import Uow
from hookmail.entrypoints.http.errors import status_for
from hookmail.entrypoints.web.forms import label

SESSION_COOKIE = "hookmail_session"
PRESESSION_COOKIE = "hookmail_csrf"  # keys the CSRF token of the signed-out forms
CHALLENGE_COOKIE = "hookmail_2fa"
CSRF_FIELD = "csrf"

Shower = Callable[[str], None]  # shows a page again with the alert given

# Notices shown after a redirect: fixed texts picked by a key, so nothing a link carries is
# ever echoed into a page.
NOTICES: Mapping[str, str] = {
    "signed_up": "Your account is ready. Sign in.",
    "claimed": "Domain claimed. Publish the records below, then press Verify.",
    "verified": "Domain verified.",
    "deleted": "Deleted.",
    "saved": "Saved.",
    "created": "Created.",
    "paused": "Paused: mail for this address is refused and queued deliveries wait.",
    "resumed": "Resumed: queued deliveries go out again.",
    "sent": "Test message sent through hookmail's inbound path; its delivery shows below.",
    "refused": "The test message was refused; the reason is in the attempts below.",
    "password": "Password changed. Every other session has ended.",
    "timezone": "Timezone saved.",
    "disabled_2fa": "Two-factor authentication is off.",
    "reset": "Password changed. Sign in with the new one.",
    "account_deleted": "Your account and everything in it are deleted.",
    "replayed": "Replay queued; the new attempt shows below.",
}


@frozen(kw_only=True)
class Site:
    """The dashboard's shared machinery: the store and clock every page reads, templates,
    cookies. Pages name the other collaborators they use."""

    uow: Uow
    clock: Clock
    smtp_hostname: str
    secure_cookies: bool  # PUBLIC_URL is https
    templates: Environment

    @classmethod
    def create(cls, uow: Uow, clock: Clock, *, public_url: str, smtp_hostname: str) -> Site:
        env = Environment(
            loader=PackageLoader("hookmail.entrypoints.web", "templates"),
            autoescape=select_autoescape(default=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        return cls(
            uow=uow,
            clock=clock,
            smtp_hostname=smtp_hostname,
            secure_cookies=public_url.lower().startswith("https://"),
            templates=env,
        )

    # -- rendering --------------------------------------------------------------------------

    def render(
        self, req: falcon.Request, resp: falcon.Response, template: str, **values: Any
    ) -> None:
        """Render `template` with the visit's account, CSRF token, notice and `values`."""
        account: Account | None = req.context.get("account")
        zone = ZoneInfo(account.timezone if account else "UTC")
        resp.content_type = "text/html; charset=utf-8"
        resp.text = self.templates.get_template(template).render(
            account=account,
            csrf=req.context.get("csrf", ""),
            notice=NOTICES.get(req.get_param("done") or ""),
            path=req.path,
            when=lambda moment: _when(moment, zone),
            alert=values.pop("alert", None),
            **values,
        )

    @contextmanager
    def failing_to(self, resp: falcon.Response, show: Callable[[str], None]) -> Iterator[None]:
        """Run a form's use case; when it refuses, `show` the page again with the reason
        (its alert), under the status the API would answer."""
        try:
            yield
        except DomainError as ex:
            resp.status = status_for(ex)
            if isinstance(ex, RateLimited):
                resp.set_header("Retry-After", str(ex.retry_after))
            show(_sentence(ex))

    # -- cookies ----------------------------------------------------------------------------

    def set_cookie(
        self, resp: falcon.Response, name: str, value: str, *, max_age: int | None = None
    ) -> None:
        resp.set_cookie(
            name,
            value,
            max_age=max_age,
            path="/",
            secure=self.secure_cookies,
            http_only=True,
            same_site="Lax" if name == SESSION_COOKIE else "Strict",
        )

    def drop_cookie(self, resp: falcon.Response, name: str) -> None:
        resp.unset_cookie(name, path="/", same_site="Lax")


def redirect(resp: falcon.Response, path: str, **params: str) -> None:
    """303 See Other, so a reload after a form does not send it again."""
    resp.status = falcon.HTTP_303
    resp.location = f"{path}?{urlencode(params)}" if params else path


def csrf_token(key: str) -> str:
    """The CSRF token of forms seen by the holder of the cookie `key` (a session token, or
    the pre-session cookie before sign-in): another site can't read the cookie, so it can't
    make the token."""
    return hmac.new(key.encode(), b"hookmail-csrf", hashlib.sha256).hexdigest()


def csrf_matches(key: str, given: str) -> bool:
    return hmac.compare_digest(csrf_token(key), given)


def new_presession() -> str:
    return secrets.token_urlsafe(32)


def _when(moment: datetime | None, zone: ZoneInfo) -> str:
    if moment is None:
        return ""
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z")


def _sentence(ex: DomainError) -> str:
    """The refusal as a sentence; a field is named by its label on the form."""
    text = str(ex) or ex.code.replace("_", " ")
    if isinstance(ex, InvalidField):
        text = f"{label(ex.field)}{text.removeprefix(ex.field)}"
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")
