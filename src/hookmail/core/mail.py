"""Inbound mail as hookmail keeps it: the message, its envelope and authentication results,
and the pure helpers that read and stamp it (line endings, `Received`, Message-ID)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from email.utils import format_datetime
from functools import lru_cache
from uuid import UUID, uuid4

from attrs import field, frozen

_LINE_ENDS = re.compile(rb"\r\n|\r|\n")


def normalise_line_endings(raw: bytes) -> bytes:
    """Every bare CR and bare LF becomes CRLF, before any parsing, DKIM or policy step, so
    no header can be smuggled in through a line ending that one reader sees and another
    doesn't. Returns `raw` itself (no copy) when it has none."""
    pairs = raw.count(b"\r\n")
    if raw.count(b"\n") == pairs and raw.count(b"\r") == pairs:  # C-speed scans, no copy
        return raw
    return _LINE_ENDS.sub(b"\r\n", raw)


def _date_line(now: datetime) -> str:
    """format_datetime(now), formatted once per second: a busy server stamps every message
    of a second with the same date."""
    return _second(now.replace(microsecond=0), now.utcoffset())


@lru_cache(maxsize=4)
def _second(second: datetime, _offset: timedelta | None) -> str:
    # keyed by the offset too: equal instants in two time zones are written differently
    return format_datetime(second)


def received_header(*, helo: str, remote_ip: str, hostname: str, now: datetime) -> bytes:
    """The `Received` trace header hookmail puts on top of every message it accepts
    (RFC 5321 §4.4), whichever way the message came in."""
    return (
        f"Received: from {helo or 'unknown'} ([{remote_ip}])\r\n"
        f"\tby {hostname} (hookmail) with ESMTP;\r\n"
        f"\t{_date_line(now)}\r\n"
    ).encode("utf-8", "replace")


def head_of(raw: bytes) -> bytes:
    """A message's header section, up to the first empty line (its CRLF CRLF left out), or
    the whole of it when there is none; without copying the body (split() would)."""
    end = raw.find(b"\r\n\r\n")
    return raw if end < 0 else raw[:end]


def message_id_of(raw: bytes) -> str | None:
    """The Message-ID header's value, read without a full parse (headers end at the first
    empty line; folded continuation lines are joined)."""
    lines = head_of(raw).split(b"\r\n")
    for index, line in enumerate(lines):
        if line[:11].lower() == b"message-id:":
            value = line[11:]
            for more in lines[index + 1 :]:
                if more[:1] not in (b" ", b"\t"):
                    break
                value += b" " + more.strip()
            text = value.strip().decode("utf-8", "replace")
            return text or None
    return None


@frozen
class DkimResult:
    domain: str
    result: str  # "pass" or "fail"


@frozen
class SpfOutcome:
    result: str  # pass, fail, softfail, neutral, none, temperror, permerror
    domain: str  # the MAIL FROM domain, or the HELO name for a null sender
    explanation: str = ""


@frozen
class DmarcOutcome:
    """DMARC (RFC 7489) of the RFC 5322 From domain."""

    result: str  # pass, fail, none, temperror, permerror
    domain: str  # the From domain ("" when the message has none)
    policy: str | None = None  # none, quarantine, reject: the policy that applies; None without


@frozen(kw_only=True)
class Envelope:
    mail_from: str
    rcpt_to: tuple[str, ...]
    remote_ip: str
    helo: str
    smtp_user: str | None = None


@frozen(kw_only=True)
class AuthResults:
    """What was checked. `spf` and `dmarc` are None (and `dkim` empty) when nothing asked for
    them (no recipient's policy, and HOOKMAIL_AUTH_CHECKS is not `always`)."""

    spf: SpfOutcome | None = None
    dkim: tuple[DkimResult, ...] = ()
    dmarc: DmarcOutcome | None = None


@frozen(kw_only=True)
class InboundMessage:
    id: UUID
    received_at: datetime
    envelope: Envelope
    auth: AuthResults
    raw: bytes = field(repr=False)
    message_id: str  # the Message-ID header, angle brackets kept; made up when absent

    @property
    def size(self) -> int:
        return len(self.raw)

    @classmethod
    def receive(
        cls,
        *,
        raw: bytes,
        envelope: Envelope,
        auth: AuthResults,
        now: datetime,
        message_id: str | None,
    ) -> InboundMessage:
        ident = uuid4()
        return cls(
            id=ident,
            received_at=now,
            envelope=envelope,
            auth=auth,
            raw=raw,
            message_id=message_id or f"<{ident.hex}@hookmail.invalid>",
        )
