"""Attachment URL tokens: only a genuine, unexpired token grants its part (SPEC §6.5)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from hookmail.adapters.memory import InMemoryUnitOfWork
from hookmail.core import attachment_urls
from hookmail.core.attachment_urls import AttachmentClaim
from hookmail.core.services.keys import attachment_url_key

NOW = datetime(2026, 4, 2, 12, 0, tzinfo=UTC)
KEY = b"k" * 43


def _token(**overrides: object) -> tuple[str, AttachmentClaim]:
    message = uuid4()
    fields: dict[str, object] = {
        "message_id": message,
        "part": 3,
        "size": 1234,
        "expires": NOW + timedelta(days=7),
    }
    fields.update(overrides)
    token = attachment_urls.issue(KEY, **fields)  # type: ignore[arg-type]
    return token, AttachmentClaim(fields["message_id"], 3, 1234)  # type: ignore[arg-type]


def test_a_genuine_token_grants_its_part_until_it_expires() -> None:
    token, claim = _token()
    assert attachment_urls.read(KEY, token, now=NOW) == claim
    assert attachment_urls.read(KEY, token, now=NOW + timedelta(days=7)) is None


def test_every_changed_byte_is_refused() -> None:
    token, _ = _token()
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    for index in range(len(raw)):
        tampered = bytearray(raw)
        tampered[index] ^= 0x01
        forged = base64.urlsafe_b64encode(bytes(tampered)).decode().rstrip("=")
        assert attachment_urls.read(KEY, forged, now=NOW) is None, index


@pytest.mark.parametrize("token", ["", "x", "not a token!", "A" * 91, "A" * 5000])
def test_malformed_tokens_are_refused(token: str) -> None:
    assert attachment_urls.read(KEY, token, now=NOW) is None


def test_another_key_refuses_the_token() -> None:
    token, _ = _token()
    assert attachment_urls.read(b"another key", token, now=NOW) is None


def test_the_key_is_made_once_with_256_bits_and_shared() -> None:
    uow = InMemoryUnitOfWork()
    key = attachment_url_key(uow)
    assert key == attachment_url_key(uow)
    assert len(base64.urlsafe_b64decode(key + b"=" * (-len(key) % 4))) == 32
