"""DMARC in the payload: the From domain to evaluate, and the payload's `auth.dmarc` shape.

The evaluation itself (record discovery, the organisational domain, alignment) is the
`DmarcEvaluator` port's, made real in `adapters/dmarc.py`.
"""

from __future__ import annotations

import email.policy
from email.headerregistry import Address
from email.parser import BytesHeaderParser
from typing import Any

from hookmail.core.mail import DmarcOutcome, head_of

_HEADERS = BytesHeaderParser(policy=email.policy.default)


def from_domain(raw: bytes) -> str | None:
    """The RFC 5322 From domain, lower-cased; None when there is no single From domain
    (no From header, no address in it, or addresses in several domains: RFC 7489 §6.6.1)."""
    head = head_of(raw) + b"\r\n\r\n"
    try:
        values = _HEADERS.parsebytes(head).get_all("From", [])
        domains = {
            address.domain.lower().rstrip(".")
            for value in values
            for address in getattr(value, "addresses", ())
            if isinstance(address, Address) and address.domain
        }
    except (ValueError, IndexError, TypeError, AttributeError, LookupError):
        return None
    return domains.pop() if len(domains) == 1 else None


def as_json(outcome: DmarcOutcome | None) -> dict[str, Any] | None:
    """`auth.dmarc` of the payload: null when DMARC was not evaluated."""
    if outcome is None:
        return None
    return {"result": outcome.result, "domain": outcome.domain, "policy": outcome.policy}
