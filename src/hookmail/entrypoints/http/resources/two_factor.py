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
from hookmail.entrypoints.http.schemas import CodeBody, structure


def qr_png_base64(text: str) -> str:
    """A PNG of the QR code of `text`, base64-encoded."""
    buffer = io.BytesIO()
    segno.make(text, error="m").save(buffer, kind="png", scale=5, border=4)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


class TotpSetupResource:
    def __init__(self, uow: Uow, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        setup = two_factor.setup_totp(self._uow(), self._clock, account_id=req.context.account_id)
        resp.media = {
            "secret": setup.secret,
            "otpauth_url": setup.otpauth_url,
            "qr_code_png": qr_png_base64(setup.otpauth_url),
        }


class TotpEnable:
    def __init__(self, uow: Uow, clock: Clock, limits: Limits) -> None:
        self._uow, self._clock, self._limits = uow, clock, limits

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = structure(json_body(req), CodeBody)
        codes = two_factor.enable_totp(
            self._uow(),
            self._clock,
            self._limits,
            account_id=req.context.account_id,
            code=body.code,
            client=req.context.client,
        )
        resp.media = {"backup_codes": codes}


class TotpResource:
    def __init__(self, uow: Uow, clock: Clock, limits: Limits) -> None:
        self._uow, self._clock, self._limits = uow, clock, limits

    def on_delete(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = structure(json_body(req), CodeBody)
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

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = structure(json_body(req), CodeBody)
        codes = two_factor.regenerate_backup_codes(
            self._uow(),
            self._clock,
            self._limits,
            account_id=req.context.account_id,
            code=body.code,
            client=req.context.client,
        )
        resp.media = {"backup_codes": codes}
