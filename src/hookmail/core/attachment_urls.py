"""Attachment URLs: capability tokens for one MIME part of one stored message (SPEC §6.5).

A token is `base64url(message id · part · size · expiry · HMAC-SHA256(key, the rest))`. The
key is 256 random bits made once and kept in the store (`services/keys.attachment_url_key`),
so every API process and delivery worker shares it; nothing per token is stored, and a token
dies with its message (the part is read from the stored message on request) or when it expires.

Reading a token takes the same steps whatever is wrong with it: a malformed token is checked
against a dummy of the right length, the MAC is always computed and compared in constant time,
and the caller looks a message up even for a refused token (see `AttachmentClaim.lookup_id`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
from datetime import datetime
from uuid import UUID

from attrs import frozen

PATH = "/api/v1/attachments/"

_FIELDS = struct.Struct(">16sIQq")  # message id, part index, decoded size, expiry (unix s)
_MAC = 32
_LENGTH = _FIELDS.size + _MAC
NOWHERE = UUID(int=0)  # looked up for refused tokens: no message has it


@frozen
class AttachmentClaim:
    """What a token grants, when it is genuine and unexpired."""

    message_id: UUID
    part: int  # the leaf's index in mime.scan(), as payload.parse() counts them
    size: int  # the decoded size the payload announced


def _mac(key: bytes, fields: bytes) -> bytes:
    return hmac.new(key, fields, hashlib.sha256).digest()


def issue(key: bytes, *, message_id: UUID, part: int, size: int, expires: datetime) -> str:
    """A token for one part of one message, valid until `expires`."""
    fields = _FIELDS.pack(message_id.bytes, part, size, int(expires.timestamp()))
    return base64.urlsafe_b64encode(fields + _mac(key, fields)).decode("ascii").rstrip("=")


def url(public_url: str, token: str) -> str:
    return f"{public_url}{PATH}{token}"


_DUMMY = bytes(_LENGTH)


def read(key: bytes, token: str, *, now: datetime) -> AttachmentClaim | None:
    """The claim of a genuine, unexpired token; None for anything else (tampered, unknown,
    malformed or expired), after the same work in every case."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        raw = b""
    well_formed = len(raw) == _LENGTH
    if not well_formed:
        raw = _DUMMY  # the same work as a well-formed token, on bytes that can't pass
    fields, mac = raw[: _FIELDS.size], raw[_FIELDS.size :]
    genuine = hmac.compare_digest(_mac(key, fields), mac)
    message, part, size, expires = _FIELDS.unpack(fields)
    fresh = now.timestamp() < expires
    if well_formed and genuine and fresh:
        return AttachmentClaim(UUID(bytes=message), part, size)
    return None
