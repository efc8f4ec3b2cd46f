"""/api/v1/sessions…"""

from __future__ import annotations

import falcon

from hookmail.core.ports import AccessTokens, Clock, PasswordHasher
from hookmail.core.services import sessions
from hookmail.core.services.sessions import Session
from hookmail.core.throttle import Limits
from hookmail.entrypoints.http.auth import public
from hookmail.entrypoints.http.context import Uow, json_body
from hookmail.entrypoints.http.openapi import operation
from hookmail.entrypoints.http.schemas import (
    CompleteTOTPRequest,
    CreateSessionRequest,
    DeleteSessionRequest,
    RefreshSessionRequest,
    SessionResponse,
    TOTPChallengeResponse,
    structure,
    unstructure,
)


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
    @operation(
        "createSession",
        "Sign in",
        response=SessionResponse | TOTPChallengeResponse,
        body=CreateSessionRequest,
        errors=(401, 429),
    )
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = structure(json_body(req), CreateSessionRequest)
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
            resp.media = unstructure(SessionResponse.of(outcome))
        else:
            resp.media = unstructure(TOTPChallengeResponse.of(outcome))

    @public
    @operation("deleteSession", "Sign out", status=204, body=DeleteSessionRequest, errors=(401,))
    def on_delete(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = structure(json_body(req), DeleteSessionRequest)
        sessions.sign_out(self._uow(), self._clock, refresh_token=body.refresh_token)
        resp.status = falcon.HTTP_204


class TotpSession:
    tag = "sessions2fa"

    def __init__(self, uow: Uow, clock: Clock, tokens: AccessTokens, limits: Limits) -> None:
        self._uow, self._clock, self._tokens, self._limits = uow, clock, tokens, limits

    @public
    @operation(
        "completeTOTPSession",
        "Complete sign-in with TOTP code",
        response=SessionResponse,
        body=CompleteTOTPRequest,
        errors=(401, 429),
    )
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = structure(json_body(req), CompleteTOTPRequest)
        session = sessions.complete_totp_sign_in(
            self._uow(),
            self._clock,
            self._tokens,
            self._limits,
            challenge=body.totp_token,
            code=body.code,
            client=req.context.client,
        )
        resp.media = unstructure(SessionResponse.of(session))


class SessionRefresh:
    def __init__(self, uow: Uow, clock: Clock, tokens: AccessTokens) -> None:
        self._uow, self._clock, self._tokens = uow, clock, tokens

    @public
    @operation(
        "refreshSession",
        "Refresh access token",
        response=SessionResponse,
        body=RefreshSessionRequest,
        errors=(401,),
    )
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = structure(json_body(req), RefreshSessionRequest)
        session = sessions.refresh_session(
            self._uow(), self._clock, self._tokens, refresh_token=body.refresh_token
        )
        resp.media = unstructure(SessionResponse.of(session))
