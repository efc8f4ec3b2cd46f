"""For the apps that receive hookmail's webhooks: check a request (`verify`), sign one
(`sign`), build a realistic one for your tests (`signed_request`), and the payload's types.

Importing this module loads nothing but the standard library (and hookmail's own signing
code), so a receiver can use it without hookmail's server dependencies; `signed_request`
alone loads hookmail's core when called.

    from hookmail.webhooks import WebhookVerificationError, verify

    try:
        payload = verify(secret, request.headers, request.body)
    except WebhookVerificationError:
        return 400
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypedDict

from hookmail.core import signing

if TYPE_CHECKING:
    from uuid import UUID

__all__ = [
    "DEFAULT_TOLERANCE",
    "Attachment",
    "Auth",
    "DkimResult",
    "Envelope",
    "MailAddress",
    "WebhookPayload",
    "WebhookVerificationError",
    "sign",
    "signed_request",
    "verify",
]

DEFAULT_TOLERANCE = 300
"""Seconds a `webhook-timestamp` may be away from your clock (either way)."""


# -- the default payload (SPEC §5), field by field ---------------------------------------------


class MailAddress(TypedDict):
    name: Annotated[str, 'the display name, decoded; "" when there is none']
    address: Annotated[str, "the address (addr-spec), e.g. alice@example.org"]


class Envelope(TypedDict):
    mail_from: Annotated[str, 'the SMTP MAIL FROM address; "" for a bounce (null sender)']
    rcpt_to: Annotated[
        list[str], "the recipients that routed to this webhook (never another webhook's)"
    ]
    remote_ip: Annotated[str, "the sending server's IP address"]
    helo: Annotated[str, "the name the sending server gave in HELO/EHLO"]


class Attachment(TypedDict):
    filename: Annotated[str, 'the part\'s file name; "" when it has none']
    content_type: Annotated[str, "the part's MIME type, e.g. application/pdf"]
    size: Annotated[int, "the exact size of the decoded content, in bytes"]
    content_id: Annotated[str, 'the part\'s Content-ID header, brackets kept; "" when none']
    disposition: Annotated[str, '"attachment" or "inline"']
    content_base64: Annotated[
        str | None,
        "the exact decoded bytes, base64-encoded; null when the attachment is sent as `url`",
    ]
    url: Annotated[
        str | None,
        "where to GET the bytes (no token header: the URL is the credential), when the "
        "attachment is larger than the webhook's attachment_url_threshold; else null",
    ]


class Dmarc(TypedDict):
    result: Annotated[
        Literal["pass", "fail", "none", "temperror", "permerror"],
        "DMARC (RFC 7489) of the From domain: none when it publishes no record",
    ]
    domain: Annotated[str, 'the RFC 5322 From domain; "" when the mail has no single one']
    policy: Annotated[
        Literal["none", "quarantine", "reject"] | None,
        "the policy the domain publishes for it (p, or sp for a subdomain); null when none",
    ]


class DkimResult(TypedDict):
    domain: Annotated[str, "the signing domain (d=)"]
    result: Annotated[Literal["pass", "fail"], "whether the signature verified"]


class Auth(TypedDict):
    spf: Annotated[
        Literal["pass", "fail", "softfail", "neutral", "none", "temperror", "permerror"] | None,
        "the SPF result for the MAIL FROM domain (the HELO name for a null sender); null when "
        "the webhook's policy does not check SPF",
    ]
    spf_domain: Annotated[str | None, "the domain SPF was checked for; null when not checked"]
    dkim: Annotated[
        list[DkimResult], "one entry per DKIM signature; empty when unchecked or unsigned"
    ]
    smtp_user: Annotated[str | None, "the SMTP AUTH user the sender logged in as, or null"]
    dmarc: Annotated[
        Dmarc | None,
        "DMARC; null when not evaluated (no policy asks and HOOKMAIL_AUTH_CHECKS is policy)",
    ]


WebhookPayload = TypedDict(  # functional form: `from` is a Python keyword
    "WebhookPayload",
    {
        "id": Annotated[
            str, "the delivery's id, equal to the webhook-id header; the same on every retry"
        ],
        "webhook_id": Annotated[str, "the id (UUID) of the webhook that took the mail"],
        "received_at": Annotated[str, "when hookmail accepted the mail, UTC, 2026-04-02T12:00:00Z"],
        "envelope": Annotated[Envelope, "the SMTP envelope"],
        "message_id": Annotated[
            str, "the Message-ID header, angle brackets kept; made up when the mail has none"
        ],
        "subject": Annotated[str, 'the Subject header, decoded; "" when absent'],
        "date": Annotated[str, 'the Date header as sent; "" when absent'],
        "from": Annotated[list[MailAddress], "the From header's addresses"],
        "to": Annotated[list[MailAddress], "the To header's addresses; [] when absent"],
        "cc": Annotated[list[MailAddress], "the Cc header's addresses; [] when absent"],
        "reply_to": Annotated[list[MailAddress], "the Reply-To header's addresses; [] when absent"],
        "headers": Annotated[
            list[list[str]],
            "every header in order as [name, value], folded lines joined; hookmail's own "
            "Received header first",
        ],
        "text": Annotated[str, 'the text/plain body, decoded, LF line endings; "" when none'],
        "reply_text": Annotated[
            str | None,
            "the new part of a reply: text without quoted history and signature; null "
            "when text is empty",
        ],
        "html": Annotated[str, 'the text/html body, decoded; "" when none'],
        "attachments": Annotated[list[Attachment], "every other part; [] when none"],
        "notes": Annotated[
            list[str],
            "what could not be given whole (too many or too deep MIME parts, defects, a "
            "message that could not be parsed); [] when nothing",
        ],
        "auth": Annotated[Auth, "what was checked about the sender"],
        "size": Annotated[int, "the stored message's size in bytes, Received header included"],
    },
)


# -- verifying and signing -------------------------------------------------------------------


class WebhookVerificationError(Exception):
    """The request is not a genuine, recent hookmail delivery (the message says why)."""


_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_MAX_ID = 256


def _headers(headers: object) -> dict[str, str]:
    """The names lower-cased; values as text. Any mapping, or anything with `.items()`."""
    items = getattr(headers, "items", None)
    if not callable(items):
        raise WebhookVerificationError("headers must be a mapping of header names to values")
    found: dict[str, str] = {}
    try:
        pairs: Iterable[Any] = items()
        for name, value in pairs:
            lowered = (name.decode("latin-1") if isinstance(name, bytes) else str(name)).lower()
            text = value.decode("latin-1") if isinstance(value, bytes) else value
            if not isinstance(text, str):
                raise WebhookVerificationError(f"header {lowered} is not text")
            if lowered in found and found[lowered] != text:
                raise WebhookVerificationError(f"header {lowered} is given twice")
            found[lowered] = text
    except WebhookVerificationError:
        raise
    except Exception as exc:  # a broken headers object is a bad request, nothing else
        raise WebhookVerificationError(f"headers can't be read: {exc}") from None
    return found


def _required(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name, "").strip()
    if not value:
        raise WebhookVerificationError(f"missing header {name}")
    return value


def _body(body: object) -> bytes:
    if isinstance(body, str):
        try:
            return body.encode("utf-8")
        except UnicodeEncodeError:
            raise WebhookVerificationError("the body is not valid Unicode") from None
    if isinstance(body, bytes | bytearray | memoryview):
        return bytes(body)
    raise WebhookVerificationError("the body must be bytes or str (the raw request body)")


def _key(secret: object) -> bytes:
    if isinstance(secret, bytes):
        return secret
    if not isinstance(secret, str) or not secret:
        raise WebhookVerificationError("the secret must be a non-empty string")
    try:
        return signing.key(secret)
    except (ValueError, binascii.Error):
        raise WebhookVerificationError(
            "the part after whsec_ of the secret is not base64"
        ) from None


def _now(now: datetime | float | None) -> float:
    if now is None:
        return time.time()
    if isinstance(now, datetime):
        if now.tzinfo is None:
            raise WebhookVerificationError("now must be an aware datetime")
        return now.timestamp()
    if isinstance(now, int | float) and not isinstance(now, bool):
        return float(now)
    raise WebhookVerificationError("now must be a datetime or a number of seconds")


def verify(
    secret: str | bytes,
    headers: Mapping[str, str] | Any,
    body: bytes | str,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    now: datetime | float | None = None,
) -> dict[str, Any]:
    """The payload of a genuine hookmail delivery, decoded from JSON.

    `secret`: the webhook's secret (`whsec_…` or any string; bytes are taken as the key
    itself). `headers`: the request's headers, any mapping, names in any case. `body`: the raw
    request body, bytes or str, before any JSON parsing. `tolerance`: seconds the
    `webhook-timestamp` may be away from `now` (default the current time). During a secret
    rotation the header holds several signatures; one match is enough.

    Raises WebhookVerificationError, and nothing else, for missing or malformed headers, a
    timestamp outside the tolerance, no matching signature, or a body that is not a JSON
    object (a template that renders something else: check it with `sign`)."""
    found = _headers(headers)
    event_id = _required(found, "webhook-id")
    stamp = _required(found, "webhook-timestamp")
    signatures = _required(found, "webhook-signature")
    if len(event_id) > _MAX_ID:
        raise WebhookVerificationError("webhook-id is too long")
    if not _TIMESTAMP.fullmatch(stamp):
        raise WebhookVerificationError("webhook-timestamp is not a number of seconds")
    timestamp = int(stamp)
    skew = _now(now) - timestamp
    if skew > tolerance:
        raise WebhookVerificationError("webhook-timestamp is too old")
    if -skew > tolerance:
        raise WebhookVerificationError("webhook-timestamp is in the future")
    raw = _body(body)
    expected = signing.digest(_key(secret), event_id=event_id, timestamp=timestamp, body=raw)
    if not any(hmac.compare_digest(candidate, expected) for candidate in _v1(signatures)):
        raise WebhookVerificationError("no signature matches")
    try:
        payload = json.loads(raw)
    except (ValueError, RecursionError):
        raise WebhookVerificationError("the body is not JSON") from None
    if not isinstance(payload, dict):
        raise WebhookVerificationError("the body is not a JSON object")
    return payload


def _v1(header: str) -> list[bytes]:
    """The decoded `v1` signatures of a `webhook-signature` header; others are ignored."""
    found = []
    for part in header.split():
        version, _, value = part.partition(",")
        if version != "v1":
            continue
        try:
            found.append(base64.b64decode(value, validate=True))
        except (ValueError, binascii.Error):
            continue
    return found


def sign(secret: str, *, event_id: str, timestamp: int, body: bytes | str) -> str:
    """The `webhook-signature` value hookmail sends for this secret, id, time and body."""
    raw = body.encode("utf-8") if isinstance(body, str) else body
    return signing.signature([secret], event_id=event_id, timestamp=timestamp, body=raw)


# -- a whole request, as a delivery would send it ---------------------------------------------


def signed_request(
    secret: str,
    raw: bytes | str,
    *,
    rcpt_to: Iterable[str] | str = ("inbox@example.com",),
    mail_from: str = "sender@example.org",
    webhook_id: UUID | str | None = None,
    remote_ip: str = "192.0.2.1",
    helo: str = "mail.example.org",
    template: str | None = None,
    payload_format: str = "json",
    now: datetime | None = None,
    hostname: str = "mx.hookmail.test",
) -> tuple[bytes, dict[str, str]]:
    """The body and headers a delivery of the raw message `raw` (RFC 5322 bytes) to a
    webhook with this secret would POST: hookmail's own receiving, payload and signing code
    builds them, so a receiver's tests see exactly what production sends. `template` is a
    webhook's `payload_template` (only with the `json` format); `payload_format` is `json`,
    `json_with_raw` or `raw` (a ValueError otherwise); `now` (default the current time) is
    when the mail is received and signed; `hostname` names hookmail in the `Received` header.

    Loads hookmail's core (attrs, chevron) when called."""
    # Imported here, so that `import hookmail.webhooks` stays standard library only.
    from uuid import UUID, uuid4

    from attrs import evolve

    from hookmail.core import payload
    from hookmail.core.errors import InvalidField
    from hookmail.core.mail import AuthResults
    from hookmail.core.mail import Envelope as SmtpEnvelope
    from hookmail.core.services import delivery, inbound
    from hookmail.core.webhooks import Address, Webhook, check_payload_format

    try:
        shape = check_payload_format(payload_format)
    except InvalidField:
        raise ValueError(f"unknown payload format {payload_format!r}") from None
    at = now or datetime.now(UTC)
    recipients = [Address.parse(r) for r in ([rcpt_to] if isinstance(rcpt_to, str) else rcpt_to)]
    webhook = Webhook.new(
        account_id=uuid4(),
        domain_id=uuid4(),
        address=recipients[0],
        target_url="https://receiver.example/hookmail",
        secret=secret,
        now=at,
        payload_template=template or None,
        payload_format=shape,
    )
    try:
        webhook.checked(format_given=True)
    except InvalidField as exc:
        raise ValueError(str(exc)) from None
    if webhook_id is not None:
        webhook = evolve(webhook, id=UUID(str(webhook_id)))
    prepared = inbound.prepare_message(
        _Instant(at),
        raw=raw.encode("utf-8") if isinstance(raw, str) else raw,
        envelope=SmtpEnvelope(
            mail_from=mail_from,
            rcpt_to=tuple(str(r) for r in recipients),
            remote_ip=remote_ip,
            helo=helo,
        ),
        auth=AuthResults(),
        accepted=[inbound.Accepted(str(r), webhook, None) for r in recipients],
        hostname=hostname,
    )
    if prepared.message is None or not prepared.jobs:  # no policy refuses: never happens
        raise RuntimeError("the message was refused")
    work = delivery.Work(prepared.jobs[0], prepared.message, webhook, "UTC")
    config = delivery.DeliveryConfig()
    return delivery.build_request(work, payload.parse(work.message.raw), config, at)


class _Instant:
    """A clock stopped at one instant."""

    def __init__(self, at: datetime) -> None:
        self._at = at

    def now(self) -> datetime:
        return self._at
