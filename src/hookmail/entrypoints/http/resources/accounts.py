"""/api/v1/accounts…"""

from __future__ import annotations

import falcon

from hookmail.core.ports import Clock, EmailSyntax, Mailer, PasswordHasher
from hookmail.core.services import accounts
from hookmail.core.throttle import Limits
from hookmail.entrypoints.http.auth import public
from hookmail.entrypoints.http.context import Uow, json_body
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


class AccountCollection:
    def __init__(
        self, uow: Uow, clock: Clock, hasher: PasswordHasher, emails: EmailSyntax, limits: Limits
    ) -> None:
        self._uow, self._clock, self._hasher = uow, clock, hasher
        self._emails, self._limits = emails, limits

    @public
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = structure(json_body(req), EmailPasswordBody)
        account = accounts.sign_up(
            self._uow(),
            self._clock,
            self._hasher,
            self._emails,
            self._limits,
            email=body.email,
            password=body.password,
            client=req.context.client,
        )
        resp.status = falcon.HTTP_201
        resp.media = unstructure(AccountView.of(account))


class AccountMe:
    def __init__(self, uow: Uow, clock: Clock, hasher: PasswordHasher, limits: Limits) -> None:
        self._uow, self._clock, self._hasher, self._limits = uow, clock, hasher, limits

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        account = accounts.get_account(self._uow(), account_id=req.context.account_id)
        resp.media = unstructure(AccountView.of(account))

    def on_delete(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = structure(json_body(req), DeleteAccountBody)
        accounts.delete_account(
            self._uow(),
            self._clock,
            self._hasher,
            self._limits,
            account_id=req.context.account_id,
            password=body.password,
            code=body.code,
            client=req.context.client,
        )
        resp.status = falcon.HTTP_204


class Password:
    def __init__(self, uow: Uow, clock: Clock, hasher: PasswordHasher, limits: Limits) -> None:
        self._uow, self._clock, self._hasher, self._limits = uow, clock, hasher, limits

    def on_put(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = structure(json_body(req), ChangePasswordBody)
        accounts.change_password(
            self._uow(),
            self._clock,
            self._hasher,
            self._limits,
            account_id=req.context.account_id,
            current_password=body.current_password,
            new_password=body.new_password,
            client=req.context.client,
        )
        resp.status = falcon.HTTP_204


class Timezone:
    def __init__(self, uow: Uow, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    def on_put(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = structure(json_body(req), TimezoneBody)
        accounts.update_timezone(
            self._uow(), self._clock, account_id=req.context.account_id, timezone=body.timezone
        )
        resp.status = falcon.HTTP_204


class PasswordReset:
    def __init__(
        self,
        uow: Uow,
        clock: Clock,
        hasher: PasswordHasher,
        mailer: Mailer,
        limits: Limits,
        *,
        public_url: str,
    ) -> None:
        self._uow, self._clock, self._hasher = uow, clock, hasher
        self._mailer, self._limits, self._public_url = mailer, limits, public_url

    @public
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = structure(json_body(req), EmailBody)
        accounts.request_password_reset(
            self._uow(),
            self._clock,
            self._mailer,
            self._limits,
            email=body.email,
            client=req.context.client,
            public_url=self._public_url,
        )
        resp.status = falcon.HTTP_202

    @public
    def on_put(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = structure(json_body(req), ConfirmResetBody)
        accounts.confirm_password_reset(
            self._uow(),
            self._clock,
            self._hasher,
            self._limits,
            token=body.token,
            new_password=body.new_password,
            client=req.context.client,
        )
        resp.status = falcon.HTTP_204
