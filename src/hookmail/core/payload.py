"""The default webhook payload: a message parsed once with the stdlib, within bounds.

Malformed MIME never raises: whatever can be read is delivered, and a message that can't be
parsed at all still goes out with its raw headers and text. Part count and nesting depth are
bounded so a MIME bomb can't exhaust memory or time; what is left out is said in `notes`.
"""

from __future__ import annotations

import base64
import email.policy
from datetime import datetime
from email.headerregistry import Address as HeaderAddress
from email.message import EmailMessage, Message
from email.parser import BytesParser
from typing import Any
from zoneinfo import ZoneInfo

from hookmail.core.mail import DeliveryJob, InboundMessage

MAX_PARTS = 1000
MAX_DEPTH = 30

Json = dict[str, Any]


def _addresses(message: Message, name: str) -> list[Json]:
    found: list[Json] = []
    for value in message.get_all(name, []):
        try:
            for address in getattr(value, "addresses", ()):
                if isinstance(address, HeaderAddress):
                    found.append({"name": address.display_name, "address": address.addr_spec})
        except (ValueError, IndexError, TypeError, AttributeError):
            found.append({"name": "", "address": str(value)})
    return found


def _header(message: Message, name: str) -> str:
    try:
        value = message.get(name)
    except (ValueError, IndexError, TypeError, AttributeError):
        value = message.get_all(name, [None])[0] if hasattr(message, "get_all") else None
    return "" if value is None else str(value)


def _headers(message: Message) -> list[list[str]]:
    found = []
    for name, value in message.raw_items():
        found.append([name, " ".join(str(value).split())])
    return found


def _text(part: Message) -> str:
    """The decoded text of a part, with plain LF line endings."""
    try:
        if isinstance(part, EmailMessage):
            return str(part.get_content()).replace("\r\n", "\n")
    except (LookupError, ValueError, AssertionError, KeyError, TypeError):
        pass
    raw = part.get_payload(decode=True)
    if isinstance(raw, bytes):
        try:
            text = raw.decode(part.get_content_charset() or "utf-8", "replace")
        except LookupError:  # an unknown charset name
            text = raw.decode("utf-8", "replace")
        return text.replace("\r\n", "\n")
    return str(part.get_payload()).replace("\r\n", "\n")


class _Walker:
    """Depth-first over the MIME tree, counting parts and depth."""

    def __init__(self) -> None:
        self.parts = 0
        self.text: list[str] = []
        self.html: list[str] = []
        self.attachments: list[Json] = []
        self.notes: list[str] = []

    def walk(self, part: Message, depth: int = 0) -> None:
        if self.parts >= MAX_PARTS:
            if "parts" not in " ".join(self.notes):
                self.notes.append(f"more than {MAX_PARTS} MIME parts; the rest were left out")
            return
        if depth > MAX_DEPTH:
            if "nested" not in " ".join(self.notes):
                self.notes.append(f"MIME nested deeper than {MAX_DEPTH}; deeper parts left out")
            return
        self.parts += 1
        if part.is_multipart():
            payload = part.get_payload()
            for child in payload if isinstance(payload, list) else []:
                if isinstance(child, Message):
                    self.walk(child, depth + 1)
            return
        self._leaf(part)

    def _leaf(self, part: Message) -> None:
        content_type = part.get_content_type()
        disposition = part.get_content_disposition()
        filename = part.get_filename()
        if disposition != "attachment" and not filename and content_type == "text/plain":
            self.text.append(_text(part))
        elif disposition != "attachment" and not filename and content_type == "text/html":
            self.html.append(_text(part))
        else:
            data = part.get_payload(decode=True)
            body = data if isinstance(data, bytes) else str(part.get_payload()).encode()
            self.attachments.append(
                {
                    "filename": filename or "",
                    "content_type": content_type,
                    "size": len(body),
                    "content_id": _header(part, "Content-ID"),
                    "disposition": disposition or "attachment",
                    "content_base64": base64.b64encode(body).decode("ascii"),
                }
            )


def parse(raw: bytes) -> Json:
    """The message fields of the payload (no envelope or delivery fields)."""
    notes: list[str] = []
    try:
        message: Message = BytesParser(policy=email.policy.default).parsebytes(raw)
        walker = _Walker()
        walker.walk(message)
        notes.extend(walker.notes)
        fields: Json = {
            "message_id": _header(message, "Message-ID").strip(),
            "subject": _header(message, "Subject"),
            "date": _header(message, "Date"),
            "from": _addresses(message, "From"),
            "to": _addresses(message, "To"),
            "cc": _addresses(message, "Cc"),
            "reply_to": _addresses(message, "Reply-To"),
            "headers": _headers(message),
            "text": "\n".join(walker.text),
            "html": "\n".join(walker.html),
            "attachments": walker.attachments,
        }
        defects = sum(len(getattr(p, "defects", [])) for p in [message])
        if defects:
            notes.append(f"the message has {defects} MIME defect(s); parsed as far as possible")
    except (
        RecursionError,
        ValueError,
        TypeError,
        LookupError,
        AttributeError,
        IndexError,
        AssertionError,
        UnicodeError,
    ) as exc:
        head, _, body = raw.partition(b"\r\n\r\n")
        fields = {
            "message_id": "",
            "subject": "",
            "date": "",
            "from": [],
            "to": [],
            "cc": [],
            "reply_to": [],
            "attachments": [],
            "headers": [
                [n.strip(), v.strip()]
                for n, _, v in (
                    line.decode("utf-8", "replace").partition(":")
                    for line in head.split(b"\r\n")
                    if b":" in line
                )
            ],
            "text": body.decode("utf-8", "replace"),
            "html": "",
        }
        notes.append(f"the message could not be parsed ({type(exc).__name__}); raw text given")
    fields["notes"] = notes
    return fields


def build(message: InboundMessage, job: DeliveryJob, parsed: Json) -> Json:
    """The default payload of SPEC §5 for one job."""
    spf = message.auth.spf
    return {
        "id": job.event_id,
        "webhook_id": str(job.webhook_id),
        "received_at": message.received_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "envelope": {
            "mail_from": message.envelope.mail_from,
            "rcpt_to": list(job.recipients),
            "remote_ip": message.envelope.remote_ip,
            "helo": message.envelope.helo,
        },
        **{k: v for k, v in parsed.items() if k != "message_id"},
        "message_id": parsed.get("message_id") or message.message_id,
        "auth": {
            "spf": spf.result if spf else None,
            "spf_domain": spf.domain if spf else None,
            "dkim": [{"domain": d.domain, "result": d.result} for d in message.auth.dkim],
            "smtp_user": message.envelope.smtp_user,
        },
        "size": message.size,
    }


def template_view(payload: Json, *, timezone: str) -> Json:
    """What templates see: the payload plus `received_at_local` in the account's zone."""
    received = datetime.fromisoformat(payload["received_at"].replace("Z", "+00:00"))
    local = received.astimezone(ZoneInfo(timezone))
    return {**payload, "received_at_local": local.isoformat()}
