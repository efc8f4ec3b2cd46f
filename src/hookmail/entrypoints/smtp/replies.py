"""SMTP replies, with enhanced status codes (RFC 3463)."""

from __future__ import annotations

from typing import Final

from hookmail.core.services.inbound import RefusalReason, Refused

TOO_MANY_RECIPIENTS: Final = "452 4.5.3 Too many recipients"
STORE_FAILED: Final = "451 4.3.0 Temporary failure storing the message; try again later"
TOO_BIG: Final = "552 5.3.4 Message too big"
NO_RECIPIENTS_LEFT: Final = "550 5.7.1 "
AUTH_FAILED: Final = "535 5.7.8 Authentication credentials invalid"
AUTH_THROTTLED: Final = "454 4.7.0 Too many failed authentication attempts; try again later"
AUTH_UNAVAILABLE: Final = "454 4.7.0 Temporary authentication failure; try again later"
TOO_MANY_CONNECTIONS: Final = "421 4.7.0 Too many connections from your address; try again later"
GREETING_TIMEOUT: Final = "421 4.4.2 No HELO/EHLO in time; closing connection"
SESSION_FAILED: Final = "451 4.3.0 Temporary failure; try again later"
BAD_ADDRESS: Final = "501 5.1.3 Bad recipient address syntax"
BAD_SENDER: Final = "501 5.1.7 Bad sender address syntax"
BAD_HELO: Final = "501 5.5.2 Bad HELO/EHLO argument"

# aiosmtpd's own words for these cases, and ours: the same codes, with enhanced status codes
REWRITES: Final = {
    "552 Error: message size exceeds fixed maximum message size": TOO_BIG,
    "552 Error: Too much mail data": TOO_BIG,
}


def queued(message_id: str) -> str:
    return f"250 2.0.0 Ok: queued as {message_id}"


UNKNOWN_RECIPIENT: Final = "550 5.1.1 mailbox unavailable"
INACTIVE_RECIPIENT: Final = "550 5.2.1 mailbox disabled"


def refused(refusal: Refused) -> str:
    """The RCPT TO reply for a refused recipient."""
    if refusal.reason is RefusalReason.INACTIVE:
        return INACTIVE_RECIPIENT
    if refusal.reason is RefusalReason.POLICY:
        return f"550 5.7.1 {refusal.detail}"
    return UNKNOWN_RECIPIENT


# Synchronous webhooks (SPEC §6.4): the target's answer decides the reply to DATA
SYNC_RATE_LIMITED: Final = "451 4.7.0 The webhook's rate limit is reached; try again later"
SYNC_DEFERRED: Final = "451 4.3.0 The target did not take the message; try again later"


def sync_refused(http_status: int, error: str) -> str:
    """DATA's reply when every recipient's target refused the message."""
    why = f"HTTP {http_status}" if http_status else (error or "refused")
    return f"550 5.7.1 target refused the message ({why})"
