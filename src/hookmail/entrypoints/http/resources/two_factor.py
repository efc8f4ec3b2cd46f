"""/api/v1/accounts/me/2fa…"""

from __future__ import annotations

import base64
import io

import falcon
import segno

from hookmail.core.ports import Clock
from hookmail.core.services import two_factor
from hookmail.core.throttle import Limits
from hookmail.entrypoints.http.context import Uow, json_body
from hookmail.entrypoints.http.openapi import operation
from hookmail.entrypoints.http.schemas import (
    BackupCodesResponse,
    EnableTOTPRequest,
    SetupTOTPResponse,
    TOTPCodeRequest,
    structure,
    unstructure,
)

TAG = "2fa"


def qr_png_base64(text: str) -> str:
    """A PNG of the QR code of `text`, base64-encoded."""
    buffer = io.BytesIO()
    segno.make(text, error="m").save(buffer, kind="png", scale=5, border=4)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


class TotpSetupResource:
    def __init__(self, uow: Uow, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    @operation(
        "setupTOTP",
        "Set up TOTP two-factor authentication",
        response=SetupTOTPResponse,
        errors=(409,),
    )
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        setup = two_factor.setup_totp(self._uow(), self._clock, account_id=req.context.account_id)
        resp.media = unstructure(
            SetupTOTPResponse(setup.secret, setup.otpauth_url, qr_png_base64(setup.otpauth_url))
        )


class TotpEnable:
    def __init__(self, uow: Uow, clock: Clock, limits: Limits) -> None:
        self._uow, self._clock, self._limits = uow, clock, limits

    @operation(
        "enableTOTP",
        "Enable TOTP two-factor authentication",
        response=BackupCodesResponse,
        body=EnableTOTPRequest,
        errors=(401, 409, 429),
    )
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = structure(json_body(req), EnableTOTPRequest)
        codes = two_factor.enable_totp(
            self._uow(),
            self._clock,
            self._limits,
            account_id=req.context.account_id,
            code=body.code,
            client=req.context.client,
        )
        resp.media = unstructure(BackupCodesResponse(codes))


class TotpResource:
    def __init__(self, uow: Uow, clock: Clock, limits: Limits) -> None:
        self._uow, self._clock, self._limits = uow, clock, limits

    @operation(
        "disableTOTP",
        "Disable TOTP two-factor authentication",
        status=204,
        body=TOTPCodeRequest,
        errors=(401, 429),
    )
    def on_delete(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = structure(json_body(req), TOTPCodeRequest)
        two_factor.disable_totp(
            self._uow(),
            self._clock,
            self._limits,
            account_id=req.context.account_id,
            code=body.code,
            client=req.context.client,
        )
        resp.status = falcon.HTTP_204


class BackupCodes:
    def __init__(self, uow: Uow, clock: Clock, limits: Limits) -> None:
        self._uow, self._clock, self._limits = uow, clock, limits

    @operation(
        "regenerateBackupCodes",
        "Regenerate TOTP backup codes",
        response=BackupCodesResponse,
        body=TOTPCodeRequest,
        errors=(401, 429),
    )
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = structure(json_body(req), TOTPCodeRequest)
        codes = two_factor.regenerate_backup_codes(
            self._uow(),
            self._clock,
            self._limits,
            account_id=req.context.account_id,
            code=body.code,
            client=req.context.client,
        )
        resp.media = unstructure(BackupCodesResponse(codes))
