"""Opaque secrets handed to clients: refresh tokens, 2FA challenges, password-reset tokens.

Only a SHA-256 digest is stored; the tokens carry 256 random bits, so a fast hash is safe.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID, uuid4

from attrs import evolve, field, frozen

REFRESH_TTL = timedelta(days=30)
CHALLENGE_TTL = timedelta(minutes=5)
RESET_TTL = timedelta(minutes=60)


def new_secret() -> str:
    """A URL-safe token of 256 random bits."""
    return secrets.token_urlsafe(32)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class TokenKind(StrEnum):
    REFRESH = "refresh"
    TOTP_CHALLENGE = "totp_challenge"
    PASSWORD_RESET = "password_reset"  # noqa: S105 (a label, not a password)


@frozen(kw_only=True)
class IssuedToken:
    """A stored opaque token. Refresh tokens of one sign-in share a `family_id`."""

    id: UUID
    kind: TokenKind
    account_id: UUID
    token_hash: str = field(repr=False)
    family_id: UUID
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None  # rotated, consumed or revoked

    @classmethod
    def issue(
        cls,
        *,
        kind: TokenKind,
        account_id: UUID,
        now: datetime,
        ttl: timedelta,
        family_id: UUID | None = None,
    ) -> tuple[IssuedToken, str]:
        """Return the stored record and the plain token, which is shown once."""
        plain = new_secret()
        token = cls(
            id=uuid4(),
            kind=kind,
            account_id=account_id,
            token_hash=digest(plain),
            family_id=family_id or uuid4(),
            created_at=now,
            expires_at=now + ttl,
        )
        return token, plain

    def usable(self, now: datetime) -> bool:
        return self.used_at is None and now < self.expires_at

    def used(self, now: datetime) -> IssuedToken:
        return evolve(self, used_at=now)
