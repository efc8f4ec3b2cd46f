"""hookmail.webhooks.verify: genuine requests pass, anything else raises
WebhookVerificationError and nothing else, whatever the input."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from wsgiref.headers import Headers

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hookmail.webhooks import (
    DEFAULT_TOLERANCE,
    WebhookVerificationError,
    sign,
    verify,
)

SECRET = "whsec_" + "c2VjcmV0LWtleS1ieXRlcy0xMjM0NTY3ODkwMTI="
PLAIN = "a-plain-secret-of-many-characters"
BODY = b'{"id": "msg_1", "subject": "Caf\xc3\xa9"}'
NOW = 1_775_131_200  # 2026-04-02T12:00:00Z


def headers(secret: str = SECRET, body: bytes = BODY, at: int = NOW) -> dict[str, str]:
    return {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(at),
        "webhook-signature": sign(secret, event_id="msg_1", timestamp=at, body=body),
    }


def test_a_genuine_request_gives_its_payload() -> None:
    assert verify(SECRET, headers(), BODY, now=NOW) == {"id": "msg_1", "subject": "Café"}


def test_a_plain_secret_signs_with_its_utf8_bytes() -> None:
    assert verify(PLAIN, headers(PLAIN), BODY, now=NOW)["id"] == "msg_1"
    with pytest.raises(WebhookVerificationError, match="no signature matches"):
        verify(SECRET, headers(PLAIN), BODY, now=NOW)


def test_the_body_may_be_str() -> None:
    assert verify(SECRET, headers(), BODY.decode(), now=NOW)["subject"] == "Café"


class CaseInsensitive(Mapping[str, str]):
    """A headers object like a framework's: lookups in any case, its own spelling inside."""

    def __init__(self, items: dict[str, str]) -> None:
        self._items = {k.title(): v for k, v in items.items()}

    def __getitem__(self, name: str) -> str:
        return self._items[name.title()]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)


@pytest.mark.parametrize(
    "shape",
    [
        lambda h: {k.upper(): v for k, v in h.items()},
        lambda h: {k.title(): v for k, v in h.items()},
        CaseInsensitive,
        lambda h: Headers(list(h.items())),  # wsgiref's, not a Mapping but has items()
        lambda h: {k.encode(): v.encode() for k, v in h.items()},  # raw ASGI-like bytes
    ],
    ids=["upper", "title", "mapping", "wsgiref", "bytes"],
)
def test_header_names_are_case_insensitive_in_any_mapping(shape: Any) -> None:
    assert verify(SECRET, shape(headers()), BODY, now=NOW)["id"] == "msg_1"


def test_during_a_rotation_either_secret_verifies_and_other_versions_are_ignored() -> None:
    new, old = headers(SECRET), headers(PLAIN)
    both = {
        **new,
        "webhook-signature": f"v2,abc {old['webhook-signature']} v1,!!! {new['webhook-signature']}",
    }
    assert verify(SECRET, both, BODY, now=NOW)
    assert verify(PLAIN, both, BODY, now=NOW)
    with pytest.raises(WebhookVerificationError):
        verify("whsec_" + "b3RoZXI=", both, BODY, now=NOW)


def test_the_timestamp_must_be_within_the_tolerance_either_way() -> None:
    verify(SECRET, headers(at=NOW - DEFAULT_TOLERANCE), BODY, now=NOW)
    verify(SECRET, headers(at=NOW + DEFAULT_TOLERANCE), BODY, now=NOW)
    with pytest.raises(WebhookVerificationError, match="too old"):
        verify(SECRET, headers(at=NOW - DEFAULT_TOLERANCE - 1), BODY, now=NOW)
    with pytest.raises(WebhookVerificationError, match="in the future"):
        verify(SECRET, headers(at=NOW + DEFAULT_TOLERANCE + 1), BODY, now=NOW)
    verify(SECRET, headers(at=NOW - 3600), BODY, now=NOW, tolerance=3600)
    at = datetime.fromtimestamp(NOW, UTC)
    verify(SECRET, headers(), BODY, now=at + timedelta(seconds=10))


def test_now_defaults_to_the_current_time() -> None:
    recent = int(time.time())
    verify(SECRET, headers(at=recent), BODY)
    with pytest.raises(WebhookVerificationError, match="too old"):
        verify(SECRET, headers(at=NOW), BODY)


class Broken(Mapping[str, str]):
    def __getitem__(self, name: str) -> str:
        raise RuntimeError("broken")

    def __iter__(self) -> Iterator[str]:
        raise RuntimeError("broken")

    def __len__(self) -> int:
        return 3


def _with(**changes: str | None) -> dict[str, str]:
    found = headers()
    for name, value in changes.items():
        key = name.replace("_", "-")
        if value is None:
            del found[key]
        else:
            found[key] = value
    return found


def _signed(body: bytes) -> tuple[dict[str, str], bytes]:
    return headers(body=body), body


MALFORMED: dict[str, tuple[Any, Any, Any]] = {
    "no webhook-id": (SECRET, _with(webhook_id=None), BODY),
    "no webhook-timestamp": (SECRET, _with(webhook_timestamp=None), BODY),
    "no webhook-signature": (SECRET, _with(webhook_signature=None), BODY),
    "empty webhook-id": (SECRET, _with(webhook_id=""), BODY),
    "blank signature": (SECRET, _with(webhook_signature="   "), BODY),
    "no headers at all": (SECRET, {}, BODY),
    "timestamp not a number": (SECRET, _with(webhook_timestamp="yesterday"), BODY),
    "timestamp in float form": (SECRET, _with(webhook_timestamp="1.7e9"), BODY),
    "negative timestamp": (SECRET, _with(webhook_timestamp="-5"), BODY),
    "huge timestamp": (SECRET, _with(webhook_timestamp="9" * 400), BODY),
    "non-ASCII digits": (SECRET, _with(webhook_timestamp="١٧٧٥١٣١٢٠٠"), BODY),
    "stale timestamp": (SECRET, headers(at=NOW - 3600), BODY),
    "signature without version": (SECRET, _with(webhook_signature="abc"), BODY),
    "signature not base64": (SECRET, _with(webhook_signature="v1,%%%"), BODY),
    "signature non-ASCII": (SECRET, _with(webhook_signature="v1,é"), BODY),
    "only other versions": (SECRET, _with(webhook_signature="v1a,abc v2,def"), BODY),
    "wrong secret": ("whsec_" + "b3RoZXI=", headers(), BODY),
    "secret not base64 after whsec_": ("whsec_abc", headers(), BODY),
    "empty secret": ("", headers(), BODY),
    "secret of the wrong type": (None, headers(), BODY),
    "tampered body": (SECRET, headers(), BODY + b" "),
    "body of the wrong type": (SECRET, headers(), None),
    "body a lone surrogate": (SECRET, headers(), "\ud800"),
    "headers of the wrong type": (SECRET, ["webhook-id"], BODY),
    "headers None": (SECRET, None, BODY),
    "headers that break when read": (SECRET, Broken(), BODY),
    "a header given twice": (
        SECRET,
        {**headers(), "Webhook-Id": "msg_2"},
        BODY,
    ),
    "a header value not text": (SECRET, {**headers(), "webhook-id": 7}, BODY),
    "id too long": (SECRET, _with(webhook_id="x" * 10_000), BODY),
    "signed body not JSON": (SECRET, *_signed(b"not json")),
    "signed body a JSON list": (SECRET, *_signed(b"[1, 2]")),
    "signed body nested deep": (SECRET, *_signed(b"[" * 100_000)),
    "signed body not UTF-8": (SECRET, *_signed(b'{"a": "\xff"}')),
}


@pytest.mark.parametrize("case", MALFORMED.values(), ids=MALFORMED.keys())
def test_anything_malformed_raises_only_webhook_verification_error(
    case: tuple[Any, Any, Any],
) -> None:
    secret, found, body = case
    with pytest.raises(WebhookVerificationError):
        verify(secret, found, body, now=NOW)


def test_the_error_says_which_header_is_missing() -> None:
    with pytest.raises(WebhookVerificationError, match="missing header webhook-timestamp"):
        verify(SECRET, _with(webhook_timestamp=None), BODY, now=NOW)


_text = st.text(max_size=60)
_header_values = st.one_of(
    _text,
    st.integers(min_value=-(10**20), max_value=10**20).map(str),
    st.binary(max_size=40),
)


@settings(max_examples=300, deadline=None)
@given(
    secret=st.one_of(_text, st.just(SECRET), _text.map(lambda t: "whsec_" + t)),
    extra=st.dictionaries(
        st.sampled_from(["webhook-id", "Webhook-Timestamp", "WEBHOOK-SIGNATURE", "x"]),
        _header_values,
        max_size=4,
    ),
    body=st.one_of(st.binary(max_size=200), _text),
)
def test_fuzzed_inputs_raise_only_webhook_verification_error(
    secret: str, extra: dict[str, Any], body: bytes | str
) -> None:
    with contextlib.suppress(WebhookVerificationError):  # anything else fails the test
        verify(secret, {**headers(), **extra}, body, now=NOW)


def test_the_payload_comes_back_exactly_as_sent() -> None:
    body = json.dumps({"id": "msg_1", "size": 3, "auth": {"spf": None}}).encode()
    assert verify(SECRET, headers(body=body), body, now=NOW) == json.loads(body)
