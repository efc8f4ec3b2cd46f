"""Bearer authentication, as middleware: every responder is private unless marked public."""

from __future__ import annotations

from typing import Any

import falcon

from hookmail.core.errors import Unauthenticated
from hookmail.core.ports import AccessTokens, Clock
from hookmail.core.services.sessions import authenticate
from hookmail.entrypoints.http.context import Uow, client_address
from hookmail.entrypoints.settings import Network


def public(responder: object) -> object:
    """Mark a responder as needing no access token (a class attribute
    `__hookmail_public__ = True` marks every responder of a resource)."""
    responder.__hookmail_public__ = True  # type: ignore[attr-defined]
    return responder


class AuthMiddleware:
    def __init__(
        self, uow: Uow, clock: Clock, tokens: AccessTokens, trusted_proxies: tuple[Network, ...]
    ) -> None:
        self._uow, self._clock, self._tokens = uow, clock, tokens
        self._trusted_proxies = trusted_proxies

    def process_resource(
        self,
        req: falcon.Request,
        resp: falcon.Response,
        resource: object,
        params: dict[str, Any],
    ) -> None:
        req.context.client = client_address(req, self._trusted_proxies)
        if resource is None:
            return
        responder = getattr(resource, f"on_{req.method.lower()}", None)
        if responder is None or getattr(responder, "__hookmail_public__", False):
            return
        if getattr(resource, "__hookmail_public__", False):  # a whole resource, like a page
            return
        header = req.get_header("Authorization") or ""
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("send 'Authorization: Bearer <access_token>'")
        req.context.account_id = authenticate(
            self._uow(), self._clock, self._tokens, bearer=token.strip()
        )
