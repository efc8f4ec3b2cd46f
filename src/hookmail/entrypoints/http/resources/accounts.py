"""/api/v1/accounts…"""

from __future__ import annotations

import falcon

from hookmail.core.ports import Background, Clock, EmailSyntax, Mailer, PasswordHasher
from hookmail.core.services import accounts
from hookmail.core.throttle import Limits
from hookmail.entrypoints.http.auth import public
from hookmail.entrypoints.http.context import Uow, json_body
from hookmail.entrypoints.http.openapi import operation
from hookmail.entrypoints.http.schemas import (
    AccountResponse,
    ChangePasswordRequest,
    ConfirmPasswordResetRequest,
    CreateAccountRequest,
    DeleteAccountRequest,
    RequestPasswordResetRequest,
    UpdateTimezoneRequest,
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
    @operation(
        "createAccount",
        "Sign up",
        status=201,
        response=AccountResponse,
        body=CreateAccountRequest,
        errors=(409, 429),
    )
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = structure(json_body(req), CreateAccountRequest)
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
        resp.media = unstructure(AccountResponse.of(account))


class AccountMe:
    def __init__(self, uow: Uow, clock: Clock, hasher: PasswordHasher, limits: Limits) -> None:
        self._uow, self._clock, self._hasher, self._limits = uow, clock, hasher, limits

    @operation("getAccount", "Get current account", response=AccountResponse)
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        account = accounts.get_account(self._uow(), account_id=req.context.account_id)
        resp.media = unstructure(AccountResponse.of(account))

    @operation(
        "deleteAccount",
        "Delete account",
        status=204,
        body=DeleteAccountRequest,
        errors=(401, 429),
    )
    def on_delete(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = structure(json_body(req), DeleteAccountRequest)
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

    @operation(
        "changePassword",
        "Change password",
        status=204,
        body=ChangePasswordRequest,
        errors=(401, 429),
    )
    def on_put(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = structure(json_body(req), ChangePasswordRequest)
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

    @operation("updateTimezone", "Update timezone", status=204, body=UpdateTimezoneRequest)
    def on_put(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = structure(json_body(req), UpdateTimezoneRequest)
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
        background: Background,
        *,
        public_url: str,
    ) -> None:
        self._uow, self._clock, self._hasher = uow, clock, hasher
        self._mailer, self._limits, self._public_url = mailer, limits, public_url
        self._background = background

    @public
    @operation(
        "requestPasswordReset",
        "Request password reset",
        status=202,
        body=RequestPasswordResetRequest,
        errors=(429,),
    )
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = structure(json_body(req), RequestPasswordResetRequest)
        accounts.request_password_reset(
            self._uow(),
            self._clock,
            self._mailer,
            self._limits,
            self._background,
            email=body.email,
            client=req.context.client,
            public_url=self._public_url,
        )
        resp.status = falcon.HTTP_202

    @public
    @operation(
        "confirmPasswordReset",
        "Confirm password reset",
        status=204,
        body=ConfirmPasswordResetRequest,
        errors=(401, 429),
    )
    def on_put(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = structure(json_body(req), ConfirmPasswordResetRequest)
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
