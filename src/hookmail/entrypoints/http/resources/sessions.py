"""/api/v1/sessions…"""

from __future__ import annotations

import falcon

from hookmail.core.services import sessions
from hookmail.core.services.sessions import Session
from hookmail.entrypoints.http.auth import public
from hookmail.entrypoints.http.context import Resource, json_body
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


class SessionCollection(Resource):
    @public
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = structure(json_body(req), EmailPasswordBody)
        p = self._p
        outcome = sessions.sign_in(
            p.uow(),
            p.clock,
            p.hasher,
            p.access_tokens,
            p.limits,
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
        sessions.sign_out(self._p.uow(), self._p.clock, refresh_token=body.refresh_token)
        resp.status = falcon.HTTP_204


class TotpSession(Resource):
    @public
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = structure(json_body(req), CompleteTotpBody)
        p = self._p
        session = sessions.complete_totp_sign_in(
            p.uow(),
            p.clock,
            p.access_tokens,
            p.limits,
            challenge=body.totp_token,
            code=body.code,
            client=req.context.client,
        )
        resp.media = _session(session)


class SessionRefresh(Resource):
    @public
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = structure(json_body(req), RefreshBody)
        session = sessions.refresh_session(
            self._p.uow(), self._p.clock, self._p.access_tokens, refresh_token=body.refresh_token
        )
        resp.media = _session(session)
