"""Dashboard sessions: an opaque cookie token per signed-in browser, kept in the store.

Only the token's SHA-256 digest is stored (like refresh tokens). A session is bound to the
account's token version, so a password change or reset ends it as it ends API tokens.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID, uuid4

from attrs import field, frozen

from hookmail.core.accounts import Account
from hookmail.core.tokens import digest, new_secret

WEB_SESSION_TTL = timedelta(days=7)


@frozen(kw_only=True)
class WebSession:
    id: UUID
    account_id: UUID
    token_hash: str = field(repr=False)
    token_version: int
    created_at: datetime
    expires_at: datetime

    @classmethod
    def open(cls, account: Account, now: datetime) -> tuple[WebSession, str]:
        """The stored record and the plain token (the cookie's value, shown once)."""
        plain = new_secret()
        session = cls(
            id=uuid4(),
            account_id=account.id,
            token_hash=digest(plain),
            token_version=account.token_version,
            created_at=now,
            expires_at=now + WEB_SESSION_TTL,
        )
        return session, plain

    def valid_for(self, account: Account | None, now: datetime) -> bool:
        """Unexpired, and the account still exists with the token version it was opened under."""
        return (
            account is not None
            and account.id == self.account_id
            and account.token_version == self.token_version
            and now < self.expires_at
        )
