"""Standard Webhooks signatures: `v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>`.

Standard library only: `hookmail.webhooks` (for the apps that receive our webhooks) signs and
verifies with these very functions without loading anything else.
"""

from __future__ import annotations

import base64
import hashlib
import hmac


def key(secret: str) -> bytes:
    """The HMAC key of a secret: the base64-decoded part after `whsec_`, else its UTF-8 bytes.
    Raises ValueError (binascii.Error) for a `whsec_` secret whose rest is not base64."""
    if secret.startswith("whsec_"):
        return base64.b64decode(secret.removeprefix("whsec_"))
    return secret.encode("utf-8")


def digest(key: bytes, *, event_id: str, timestamp: int, body: bytes) -> bytes:
    """The raw HMAC-SHA256 of `<id>.<timestamp>.<body>`, fed in two parts: joining them first
    would copy the body (a second 25 MB for a big message's payload)."""
    mac = hmac.new(key, f"{event_id}.{timestamp}.".encode(), hashlib.sha256)
    mac.update(body)
    return mac.digest()


def signature(secrets: list[str], *, event_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header: one `v1,…` per secret, space-separated."""
    return " ".join(
        "v1,"
        + base64.b64encode(
            digest(key(s), event_id=event_id, timestamp=timestamp, body=body)
        ).decode()
        for s in secrets
    )
