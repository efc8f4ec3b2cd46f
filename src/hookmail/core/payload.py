"""The default webhook payload: a message read once, within bounds, always valid UTF-8.

`core.mime` walks the raw bytes within the MIME bounds; `core.header_values` turns header
bytes (UTF-8, legacy 8-bit, RFC 2047 encoded words) into text. Malformed MIME never raises:
whatever can be read is delivered, and what was left out or could not be read is said in
`notes`. A base64 attachment is passed through from the message's own lines when they are
canonical base64 (one copy, no decode and re-encode); anything else is decoded by the
stdlib and encoded again. Nothing here keeps a reference to a message after returning.
"""

from __future__ import annotations

import base64
import binascii
import io
import secrets
from datetime import datetime
from email.message import Message
from email.utils import format_datetime, parsedate_to_datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from hookmail.core import dmarc, header_values, mime, reply
from hookmail.core.deliveries import DeliveryJob
from hookmail.core.mail import InboundMessage

MAX_PARTS = mime.MAX_PARTS
MAX_DEPTH = mime.MAX_DEPTH
ATTACHMENT_PARTS = "attachment_parts"  # parse() keeps each attachment's leaf index; not sent
_NOT_IN_PAYLOAD = frozenset({"message_id", ATTACHMENT_PARTS})

Json = dict[str, Any]

_BASE64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_CHUNK = 256 * 1024  # see encode()
_ADDRESS_FIELDS = (("from", "from"), ("to", "to"), ("cc", "cc"), ("reply_to", "reply-to"))


def _first(fields: dict[str, list[bytes]], name: str) -> bytes | None:
    values = fields.get(name)
    return values[0] if values else None


def _date(raw: bytes | None) -> str:
    """The Date header as the stdlib's default policy shows it: normalised when it parses."""
    if raw is None:
        return ""
    # mail sent in a burst carries the same few Date values; a long one is not kept
    return _remembered_date(raw) if len(raw) <= 128 else _normalise_date(raw)


def _normalise_date(raw: bytes) -> str:
    value = header_values.unfold(raw)
    try:
        return format_datetime(parsedate_to_datetime(value))
    except (TypeError, ValueError, IndexError, OverflowError):
        return value


_remembered_date = lru_cache(maxsize=256)(_normalise_date)


def _canonical_base64(raw: bytes, start: int, end: int) -> tuple[str, int] | None:
    """The part's base64 lines as one string when they are exactly what encoding the
    decoded bytes again would give, with the decoded size; None otherwise (the caller then
    decodes and re-encodes)."""
    data = raw[start:end].translate(None, b"\r\n")  # the line breaks (faster than replace)
    if not data or len(data) % 4:
        return None
    padding = 2 - len(data[-2:].rstrip(b"="))
    # translate() deletes the alphabet: what is left must be the padding alone
    if data.translate(None, _BASE64_ALPHABET) != b"=" * padding:
        return None
    if padding:  # the unused bits of the last quantum must be 0, as encoding gives them
        tail = data[-4:]
        if base64.b64encode(binascii.a2b_base64(tail)) != tail:
            return None
    return data.decode("ascii"), len(data) // 4 * 3 - padding


def _transfer_encoding(message: Message) -> str:
    return str(message.get("content-transfer-encoding", "")).lower()


def _content(raw: bytes, leaf: mime.Leaf, cte: str) -> bytes:
    """The part's body with its transfer encoding (`cte`, lower-case) undone (the stdlib's
    decoding)."""
    message = leaf.message
    if cte in ("", "7bit", "8bit", "binary"):
        return raw[leaf.start : leaf.end]
    message.set_payload(raw[leaf.start : leaf.end].decode("ascii", "surrogateescape"))
    try:
        data = message.get_payload(decode=True)
    finally:
        message.set_payload("")  # no reference to the body is kept
    return data if isinstance(data, bytes) else b""


def _attachment(raw: bytes, leaf: mime.Leaf, filename: str, disposition: str | None) -> Json:
    message = leaf.message
    found = None
    cte = _transfer_encoding(message)
    if cte == "base64":
        found = _canonical_base64(raw, leaf.start, leaf.end)
    if found is None:
        data = _content(raw, leaf, cte)
        found = base64.b64encode(data).decode("ascii"), len(data)
        del data
    encoded, size = found
    content_id = message.get("Content-ID")
    return {
        "filename": filename,
        "content_type": leaf.content_type,
        "size": size,
        "content_id": header_values.unescape(str(content_id)).strip() if content_id else "",
        "disposition": disposition or "attachment",
        "content_base64": encoded,
    }


def attachment_filename(message: Message) -> str:
    """A part's file name as the payload gives it (RFC 2231 and RFC 2047 decoded)."""
    # A file name is a `filename` parameter of Content-Disposition or a `name` one of
    # Content-Type (RFC 2231's `filename*0*` too): without "name" in either, there is none,
    # and the params aren't parsed (most parts, the body's text among them, have none).
    if not any("name" in str(message.get(h, "")).lower() for h in _NAMED_BY):
        return ""
    return header_values.decode_words(header_values.unescape(message.get_filename("")))


_NAMED_BY = ("content-disposition", "content-type")


def _charset(message: Message) -> str | None:
    """message.get_content_charset(), worked out once per Content-Type value: parsing its
    parameters (RFC 2231 and all) costs more than the rest of a small part's handling, and
    the mail of one sender, or one burst, repeats a few values."""
    value = message.get("content-type")
    if not isinstance(value, str) or len(value) > 256:
        return message.get_content_charset()
    return _charset_of(value)


@lru_cache(maxsize=128)
def _charset_of(content_type: str) -> str | None:
    probe = Message()
    probe["Content-Type"] = content_type
    return probe.get_content_charset()


class _Body:
    """Text, HTML and attachments from the leaves, in order."""

    def __init__(self) -> None:
        self.text: list[str] = []
        self.html: list[str] = []
        self.attachments: list[Json] = []
        self.attachment_parts: list[int] = []  # each attachment's leaf index, for its URL

    def add(self, raw: bytes, leaf: mime.Leaf, index: int) -> None:
        message = leaf.message
        content_type = leaf.content_type
        filename = attachment_filename(message)
        disposition = message.get_content_disposition()
        inline = disposition != "attachment" and not filename
        if inline and content_type in ("text/plain", "text/html"):
            data = _content(raw, leaf, _transfer_encoding(message))
            charset = _charset(message)
            text = header_values.decode(data, charset).replace("\r\n", "\n")
            (self.text if content_type == "text/plain" else self.html).append(text)
        else:
            self.attachments.append(_attachment(raw, leaf, filename, disposition))
            self.attachment_parts.append(index)


def parse(raw: bytes) -> Json:
    """The message fields of the payload (no envelope or delivery fields)."""
    scan = mime.scan(raw)
    raw = scan.raw  # normalised when it came with LF line endings
    notes = scan.notes
    fields: dict[str, list[bytes]] = {}
    for name, value in scan.fields:
        fields.setdefault(name.lower(), []).append(value)
    body = _Body()
    for index, leaf in enumerate(scan.leaves):
        try:
            body.add(raw, leaf, index)
        except (ValueError, LookupError, TypeError, AssertionError) as exc:  # binascii too
            notes.append(f"a MIME part could not be read ({type(exc).__name__}); left out")
    subject = _first(fields, "subject")
    message_id = _first(fields, "message-id")
    parsed: Json = {
        "message_id": header_values.unfold(message_id).strip() if message_id else "",
        "subject": header_values.field_text(subject) if subject is not None else "",
        "date": _date(_first(fields, "date")),
        **{key: header_values.addresses(fields.get(name, [])) for key, name in _ADDRESS_FIELDS},
        "headers": [
            [name, " ".join(header_values.field_text(value).split())] for name, value in scan.fields
        ],
        "text": "\n".join(body.text),
        "html": "\n".join(body.html),
        "attachments": body.attachments,
        "notes": notes,
    }
    parsed["reply_text"] = reply.reply_text(parsed["text"])
    _valid(parsed)  # in place, over every field
    parsed[ATTACHMENT_PARTS] = body.attachment_parts
    return parsed


def _valid(value: Any) -> Any:
    """The final guarantee: no lone surrogate anywhere, so the payload is valid UTF-8.
    (ASCII strings, nearly all of them, are passed over without a call.)"""
    if isinstance(value, str):
        return header_values.valid(value)
    if isinstance(value, dict):
        for key, item in value.items():
            if not (isinstance(item, str) and item.isascii()):
                value[key] = _valid(item)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if not (isinstance(item, str) and item.isascii()):
                value[index] = _valid(item)
    return value


def build(message: InboundMessage, job: DeliveryJob, parsed: Json) -> Json:
    """The default payload of SPEC §5 for one job."""
    spf = message.auth.spf
    envelope = message.envelope
    # the envelope and the SMTP user come from the client too: valid() them, like `parsed`
    return {
        "id": job.event_id,
        "webhook_id": str(job.webhook_id),
        "received_at": message.received_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "envelope": {
            "mail_from": _valid(envelope.mail_from),
            "rcpt_to": _valid(list(job.recipients)),
            "remote_ip": envelope.remote_ip,
            "helo": _valid(envelope.helo),
        },
        **{k: v for k, v in parsed.items() if k not in _NOT_IN_PAYLOAD},
        "message_id": parsed.get("message_id") or _valid(message.message_id),
        "auth": {
            "spf": spf.result if spf else None,
            "spf_domain": _valid(spf.domain) if spf else None,
            "dkim": [{"domain": _valid(d.domain), "result": d.result} for d in message.auth.dkim],
            "smtp_user": _valid(envelope.smtp_user),
            "dmarc": dmarc.as_json(message.auth.dmarc),
        },
        "size": message.size,
    }


def _spliced(value: Any, big: list[str], marker: str) -> Any:
    """`value` with each string longer than _CHUNK swapped for a numbered marker."""
    if isinstance(value, str) and len(value) > _CHUNK:
        big.append(value)
        return f"{marker}{len(big) - 1}"
    return value


def _has_big(data: Json) -> bool:
    """Whether encode() would swap any string of `data` for a marker."""
    for value in data.values():
        if isinstance(value, str):
            if len(value) > _CHUNK:
                return True
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, dict):
                    for v in item.values():
                        if isinstance(v, str) and len(v) > _CHUNK:
                            return True
    return False


def encode(data: Json) -> bytes:
    """A payload as JSON bytes (UTF-8).

    orjson is about 5x faster than json.dumps on a usual payload, but it reserves several
    bytes per character of a long string: 24 MB of base64 cost it 250 MB. So strings longer
    than _CHUNK (attachments, long texts: at the top level or in a list of objects) are
    swapped for markers, the rest is encoded by orjson, and the long strings are written in
    at the markers chunk by chunk: the body is then about the only copy made."""
    if not _has_big(data):  # the usual payload: no walk, no marker
        return orjson.dumps(data)
    marker = secrets.token_hex(16)
    big: list[str] = []
    skeleton: Json = {}
    for key, value in data.items():
        if isinstance(value, list):
            value = [
                {k: _spliced(v, big, marker) for k, v in item.items()}
                if isinstance(item, dict)
                else item
                for item in value
            ]
        skeleton[key] = _spliced(value, big, marker)
    head = orjson.dumps(skeleton)
    out = io.BytesIO()
    pos = 0
    for index, value in enumerate(big):
        quoted = f'"{marker}{index}"'.encode("ascii")
        at = head.index(quoted, pos)
        out.write(head[pos:at])
        out.write(b'"')
        for start in range(0, len(value), _CHUNK):
            out.write(orjson.dumps(value[start : start + _CHUNK])[1:-1])
        out.write(b'"')
        pos = at + len(quoted)
    out.write(head[pos:])
    return out.getvalue()


def template_view(payload: Json, *, timezone: str) -> Json:
    """What templates see: the payload plus `received_at_local` in the account's zone."""
    received = datetime.fromisoformat(payload["received_at"].replace("Z", "+00:00"))
    local = received.astimezone(ZoneInfo(timezone))
    return {**payload, "received_at_local": local.isoformat()}
