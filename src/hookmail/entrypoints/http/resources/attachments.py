"""GET /api/v1/attachments/{token}: an attachment by its URL, no access token needed."""

from __future__ import annotations

from collections.abc import Callable

import falcon

from hookmail.core.ports import Clock
from hookmail.core.services import attachments
from hookmail.entrypoints.http.auth import public
from hookmail.entrypoints.http.context import Uow
from hookmail.entrypoints.http.openapi import operation

PARAMETERS = {"token": "The token of an attachment URL from a payload (the credential)"}


class AttachmentItem:
    def __init__(self, uow: Uow, clock: Clock, key: Callable[[], bytes]) -> None:
        self._uow, self._clock, self._key = uow, clock, key

    @public
    @operation(
        "getAttachment",
        "Download an attachment by its URL: its bytes, Content-Type and Content-Disposition",
        errors=(404,),
    )
    def on_get(self, req: falcon.Request, resp: falcon.Response, token: str) -> None:
        found = attachments.open_attachment(self._uow(), self._clock, self._key(), token=token)
        resp.content_type = found.content_type
        resp.downloadable_as = found.filename or "attachment"  # RFC 6266, filename* for UTF-8
        resp.content_length = found.size
        resp.stream = found.chunks
        # The URL is the credential: keep it out of shared caches; never render the bytes
        # as a page of our origin.
        resp.cache_control = ["private", "no-store"]
        resp.set_header("X-Content-Type-Options", "nosniff")
        resp.set_header("Content-Security-Policy", "sandbox")
