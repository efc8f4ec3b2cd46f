"""GET /api/v1/attachments/{token}: an attachment by its URL, no access token needed."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

import falcon

from hookmail.core.ports import Clock
from hookmail.core.services import attachments
from hookmail.entrypoints.http.auth import public
from hookmail.entrypoints.http.context import Uow
from hookmail.entrypoints.http.openapi import operation

PARAMETERS = {"token": "The token of an attachment URL from a payload (the credential)"}


def _header_safe(filename: str) -> str:
    """The sender's file name, fit for Content-Disposition: Falcon quotes an ASCII name as it
    is (and percent-encodes others in filename*), so no control character (a CR LF would
    start a new header), no quote and no backslash may stay in it."""
    return "".join(
        "_" if unicodedata.category(ch) == "Cc" or ch in '"\\' else ch for ch in filename
    ).strip()


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
        resp.downloadable_as = _header_safe(found.filename) or "attachment"  # RFC 6266
        resp.content_length = found.size
        resp.stream = found.chunks
        # The URL is the credential: keep it out of shared caches; never render the bytes
        # as a page of our origin.
        resp.cache_control = ["private", "no-store"]
        resp.set_header("X-Content-Type-Options", "nosniff")
        resp.set_header("Content-Security-Policy", "sandbox")
