"""/api/v1/sessions…"""

from __future__ import annotations

import falcon

from hookmail.core.ports import AccessTokens, Clock, PasswordHasher
from hookmail.core.services import sessions
from hookmail.core.services.sessions import Session
from hookmail.core.throttle import Limits
from hookmail.entrypoints.http.auth import public
from hookmail.entrypoints.http.context import Uow, json_body
from hookmail.entrypoints.http.schemas import (
    CompleteTotpBody,
    EmailPasswordBody,
    RefreshBody,
    structure,
)


def _session(session: Session) -> dict[str, object]:
    return {
        "access_token": session.access_token,
        "refresh_token": session.refresh_token,
        "expires_in": session.expires_in,
        "token_type": "Bearer",
    }


class SessionCollection:
    def __init__(
        self,
        uow: Uow,
        clock: Clock,
        hasher: PasswordHasher,
        tokens: AccessTokens,
        limits: Limits,
    ) -> None:
        self._uow, self._clock, self._hasher = uow, clock, hasher
        self._tokens, self._limits = tokens, limits

    @public
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = structure(json_body(req), EmailPasswordBody)
        outcome = sessions.sign_in(
            self._uow(),
            self._clock,
            self._hasher,
            self._tokens,
            self._limits,
            email=body.email,
            password=body.password,
            client=req.context.client,
        )
        if isinstance(outcome, Session):
            resp.media = _session(outcome)
        else:
            resp.media = {
                "totp_required": True,
                "totp_token": outcome.token,
                "expires_in": outcome.expires_in,
            }

    @public
    def on_delete(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = structure(json_body(req), RefreshBody)
        sessions.sign_out(self._uow(), self._clock, refresh_token=body.refresh_token)
        resp.status = falcon.HTTP_204


class TotpSession:
    def __init__(self, uow: Uow, clock: Clock, tokens: AccessTokens, limits: Limits) -> None:
        self._uow, self._clock, self._tokens, self._limits = uow, clock, tokens, limits

    @public
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = structure(json_body(req), CompleteTotpBody)
        session = sessions.complete_totp_sign_in(
            self._uow(),
            self._clock,
            self._tokens,
            self._limits,
            challenge=body.totp_token,
            code=body.code,
            client=req.context.client,
        )
        resp.media = _session(session)


class SessionRefresh:
    def __init__(self, uow: Uow, clock: Clock, tokens: AccessTokens) -> None:
        self._uow, self._clock, self._tokens = uow, clock, tokens

    @public
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = structure(json_body(req), RefreshBody)
        session = sessions.refresh_session(
            self._uow(), self._clock, self._tokens, refresh_token=body.refresh_token
        )
        resp.media = _session(session)
