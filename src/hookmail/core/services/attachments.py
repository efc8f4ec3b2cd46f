"""Serving an attachment by its URL: the token is the only credential (SPEC §6.5)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from attrs import frozen

from hookmail.core import attachment_urls, mime_parts, payload
from hookmail.core.errors import AttachmentNotFound
from hookmail.core.ports import Clock, UnitOfWork

_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,127}")  # RFC 9110 token
_MEDIA_TYPE = re.compile(rf"{_TOKEN.pattern}/{_TOKEN.pattern}")


@frozen
class Download:
    content_type: str  # with its charset parameter, when the part has one
    filename: str
    size: int
    chunks: Iterator[bytes]  # the decoded bytes, read from the stored message as they go


def open_attachment(uow: UnitOfWork, clock: Clock, key: bytes, *, token: str) -> Download:
    """The attachment a token grants. Raises AttachmentNotFound for a tampered, unknown or
    expired token and for a message that is gone, after the same work in each case: a
    refused token still costs one lookup (of an id no message has)."""
    claim = attachment_urls.read(key, token, now=clock.now())
    with uow.reading():
        message = uow.messages.get(claim.message_id if claim else attachment_urls.NOWHERE)
    if claim is None or message is None:
        raise AttachmentNotFound
    found = mime_parts.find(message.raw, claim.part)
    if found is None or mime_parts.decoded_size(*found) != claim.size:
        raise AttachmentNotFound  # the stored message doesn't hold what the payload said
    raw, leaf = found
    content_type = leaf.message.get_content_type()
    if not _MEDIA_TYPE.fullmatch(content_type):  # the sender's bytes: never a broken header
        content_type = "application/octet-stream"
    charset = leaf.message.get_content_charset()
    if charset and _TOKEN.fullmatch(charset):
        content_type += f"; charset={charset}"
    return Download(
        content_type=content_type,
        filename=payload.attachment_filename(leaf.message),
        size=claim.size,
        chunks=mime_parts.decoded(raw, leaf),
    )
