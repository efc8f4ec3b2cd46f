"""Ports: what the core needs from the outside world, as `typing.Protocol`s.

Adapters don't inherit from these; mypy proves conformance where they meet a typed parameter.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, Self
from uuid import UUID

from attrs import frozen

from hookmail.core.accounts import Account
from hookmail.core.tokens import IssuedToken, TokenKind


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class PasswordHasher(Protocol):
    def hash(self, secret: str) -> str: ...

    def verify(self, secret: str, hashed: str) -> bool:
        """True when `secret` matches; False (never raises) for a wrong or malformed hash."""
        ...

    def burn(self, secret: str) -> None:
        """Spend the time one verify() costs, so a missing user looks like a wrong password."""
        ...


class EmailSyntax(Protocol):
    def normalize(self, raw: str) -> str:
        """The address lower-cased and checked for syntax (no DNS). Raises InvalidField."""
        ...


@frozen
class AccessClaims:
    account_id: UUID
    token_version: int


class AccessTokens(Protocol):
    lifetime_seconds: int

    def issue(self, *, account_id: UUID, token_version: int, now: datetime) -> str: ...

    def verify(self, token: str, *, now: datetime) -> AccessClaims:
        """The claims of a valid, unexpired access token. Raises InvalidToken otherwise."""
        ...


class Mailer(Protocol):
    def send(self, *, to: str, subject: str, body: str) -> None:
        """Hand a plain-text mail over for sending; never raises for delivery problems."""
        ...


class AccountRepository(Protocol):
    def get(self, account_id: UUID) -> Account | None: ...

    def by_email(self, email: str) -> Account | None:
        """The account whose (lower-cased) email is `email`, or None."""
        ...

    def add(self, account: Account) -> None:
        """Insert. Raises EmailTaken if the email is in use."""
        ...

    def save(self, account: Account) -> None:
        """Update an existing account by id."""
        ...

    def delete(self, account_id: UUID) -> None:
        """Delete the account and everything it owns; no-op when absent."""
        ...


class TokenRepository(Protocol):
    def add(self, token: IssuedToken) -> None: ...

    def by_hash(self, kind: TokenKind, token_hash: str) -> IssuedToken | None:
        """The stored token of that kind with that digest (used or not), or None."""
        ...

    def save(self, token: IssuedToken) -> None: ...

    def revoke_family(self, family_id: UUID, now: datetime) -> None:
        """Mark every unused token of the family used."""
        ...

    def revoke_all(self, account_id: UUID, kind: TokenKind, now: datetime) -> None:
        """Mark every unused token of that kind of the account used."""
        ...


class AttemptLog(Protocol):
    """Timestamped events per key, for rate limits that hold across processes."""

    def record(self, key: str, at: datetime) -> None: ...

    def since(self, key: str, since: datetime) -> list[datetime]:
        """The events of `key` strictly after `since`, oldest first ([] when none)."""
        ...

    def prune(self, before: datetime) -> None:
        """Forget every event older than `before`."""
        ...


class ConfigStore(Protocol):
    """Small named values shared by every process through the store."""

    def get(self, name: str) -> str | None: ...

    def put_if_absent(self, name: str, value: str) -> None:
        """Store `value` unless `name` exists; the first writer wins."""
        ...


class UnitOfWork(Protocol):
    """One transaction; leaving the block without commit() discards the work."""

    @property
    def accounts(self) -> AccountRepository: ...
    @property
    def tokens(self) -> TokenRepository: ...
    @property
    def attempts(self) -> AttemptLog: ...
    @property
    def config(self) -> ConfigStore: ...

    def __enter__(self) -> Self: ...
    def __exit__(self, *exc: object) -> None: ...
    def commit(self) -> None: ...
