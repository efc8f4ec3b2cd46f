"""/api/v1/accounts…"""

from __future__ import annotations

import falcon

from hookmail.core.services import accounts
from hookmail.entrypoints.http.auth import public
from hookmail.entrypoints.http.context import Resource, json_body
from hookmail.entrypoints.http.schemas import (
    AccountView,
    ChangePasswordBody,
    ConfirmResetBody,
    DeleteAccountBody,
    EmailBody,
    EmailPasswordBody,
    TimezoneBody,
    structure,
    unstructure,
)


class AccountCollection(Resource):
    @public
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = structure(json_body(req), EmailPasswordBody)
        p = self._p
        account = accounts.sign_up(
            p.uow(),
            p.clock,
            p.hasher,
            p.emails,
            p.limits,
            email=body.email,
            password=body.password,
            client=req.context.client,
        )
        resp.status = falcon.HTTP_201
        resp.media = unstructure(AccountView.of(account))


class AccountMe(Resource):
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        account = accounts.get_account(self._p.uow(), account_id=req.context.account_id)
        resp.media = unstructure(AccountView.of(account))

    def on_delete(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = structure(json_body(req), DeleteAccountBody)
        accounts.delete_account(
            self._p.uow(),
            self._p.clock,
            self._p.hasher,
            account_id=req.context.account_id,
            password=body.password,
            code=body.code,
        )
        resp.status = falcon.HTTP_204


class Password(Resource):
    def on_put(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = structure(json_body(req), ChangePasswordBody)
        accounts.change_password(
            self._p.uow(),
            self._p.clock,
            self._p.hasher,
            account_id=req.context.account_id,
            current_password=body.current_password,
            new_password=body.new_password,
        )
        resp.status = falcon.HTTP_204


class Timezone(Resource):
    def on_put(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = structure(json_body(req), TimezoneBody)
        accounts.update_timezone(
            self._p.uow(), self._p.clock, account_id=req.context.account_id, timezone=body.timezone
        )
        resp.status = falcon.HTTP_204


class PasswordReset(Resource):
    @public
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = structure(json_body(req), EmailBody)
        p = self._p
        accounts.request_password_reset(
            p.uow(),
            p.clock,
            p.mailer,
            p.limits,
            email=body.email,
            client=req.context.client,
            public_url=p.public_url,
        )
        resp.status = falcon.HTTP_202

    @public
    def on_put(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = structure(json_body(req), ConfirmResetBody)
        p = self._p
        accounts.confirm_password_reset(
            p.uow(),
            p.clock,
            p.hasher,
            p.limits,
            token=body.token,
            new_password=body.new_password,
            client=req.context.client,
        )
        resp.status = falcon.HTTP_204
