"""In-memory fakes of every port, for unit tests and other apps' test harnesses.

Each is small and observable; each passes the same contract suite as the real adapter.
"""

from __future__ import annotations

import copy
import re
import threading
from datetime import UTC, datetime, timedelta
from typing import Self
from uuid import UUID

from attrs import define, evolve, field

from hookmail.core.accounts import Account
from hookmail.core.errors import EmailTaken, InvalidField, InvalidToken
from hookmail.core.ports import AccessClaims
from hookmail.core.tokens import IssuedToken, TokenKind


@define
class FixedClock:
    current: datetime = field(factory=lambda: datetime(2026, 4, 2, 12, 0, tzinfo=UTC))

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


class PlainPasswordHasher:
    """Not a hash at all: fast and transparent, for tests only."""

    def hash(self, secret: str) -> str:
        return f"plain${secret}"

    def verify(self, secret: str, hashed: str) -> bool:
        return hashed == f"plain${secret}"

    def burn(self, secret: str) -> None:
        return None


class PermissiveEmailSyntax:
    """`something@domain.tld`, lower-cased; enough for tests."""

    _SHAPE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

    def normalize(self, raw: str) -> str:
        if not self._SHAPE.match(raw.strip()):
            raise InvalidField("email", "is not a valid email address")
        return raw.strip().lower()


@define
class FakeAccessTokens:
    """Readable tokens `fake.<account>.<version>.<expiry-unix>`; unsigned, for tests only."""

    lifetime_seconds: int = 900

    def issue(self, *, account_id: UUID, token_version: int, now: datetime) -> str:
        expires = int(now.timestamp()) + self.lifetime_seconds
        return f"fake.{account_id}.{token_version}.{expires}"

    def verify(self, token: str, *, now: datetime) -> AccessClaims:
        try:
            prefix, account, version, expires = token.split(".")
            claims = AccessClaims(account_id=UUID(account), token_version=int(version))
        except ValueError:
            raise InvalidToken("the access token is malformed") from None
        if prefix != "fake" or now.timestamp() >= int(expires):
            raise InvalidToken("the access token is invalid or expired")
        return claims


@define
class SentMail:
    to: str
    subject: str
    body: str


@define
class RecordingMailer:
    sent: list[SentMail] = field(factory=list)

    def send(self, *, to: str, subject: str, body: str) -> None:
        self.sent.append(SentMail(to=to, subject=subject, body=body))


@define
class _State:
    accounts: dict[UUID, Account] = field(factory=dict)
    tokens: dict[UUID, IssuedToken] = field(factory=dict)
    attempts: list[tuple[str, datetime]] = field(factory=list)
    config: dict[str, str] = field(factory=dict)


class InMemoryAccounts:
    def __init__(self, state: _State) -> None:
        self._state = state

    def get(self, account_id: UUID) -> Account | None:
        return self._state.accounts.get(account_id)

    def by_email(self, email: str) -> Account | None:
        return next((a for a in self._state.accounts.values() if a.email == email), None)

    def add(self, account: Account) -> None:
        if self.by_email(account.email) is not None:
            raise EmailTaken
        self._state.accounts[account.id] = account

    def save(self, account: Account) -> None:
        self._state.accounts[account.id] = account

    def delete(self, account_id: UUID) -> None:
        self._state.accounts.pop(account_id, None)
        for token in [t for t in self._state.tokens.values() if t.account_id == account_id]:
            del self._state.tokens[token.id]


class InMemoryTokens:
    def __init__(self, state: _State) -> None:
        self._state = state

    def add(self, token: IssuedToken) -> None:
        self._state.tokens[token.id] = token

    def by_hash(self, kind: TokenKind, token_hash: str) -> IssuedToken | None:
        return next(
            (
                t
                for t in self._state.tokens.values()
                if t.kind == kind and t.token_hash == token_hash
            ),
            None,
        )

    def save(self, token: IssuedToken) -> None:
        self._state.tokens[token.id] = token

    def revoke_family(self, family_id: UUID, now: datetime) -> None:
        for t in list(self._state.tokens.values()):
            if t.family_id == family_id and t.used_at is None:
                self._state.tokens[t.id] = evolve(t, used_at=now)

    def revoke_all(self, account_id: UUID, kind: TokenKind, now: datetime) -> None:
        for t in list(self._state.tokens.values()):
            if t.account_id == account_id and t.kind == kind and t.used_at is None:
                self._state.tokens[t.id] = evolve(t, used_at=now)


class InMemoryAttempts:
    def __init__(self, state: _State) -> None:
        self._state = state

    def record(self, key: str, at: datetime) -> None:
        self._state.attempts.append((key, at))

    def since(self, key: str, since: datetime) -> list[datetime]:
        return sorted(at for k, at in self._state.attempts if k == key and at > since)

    def prune(self, before: datetime) -> None:
        self._state.attempts = [(k, at) for k, at in self._state.attempts if at >= before]


class InMemoryConfig:
    def __init__(self, state: _State) -> None:
        self._state = state

    def get(self, name: str) -> str | None:
        return self._state.config.get(name)

    def put_if_absent(self, name: str, value: str) -> None:
        self._state.config.setdefault(name, value)


class InMemoryUnitOfWork:
    """Works on a copy of the committed state; commit() publishes the copy.

    One instance may be shared by threads: each `with` block gets its own working copy.
    """

    def __init__(self) -> None:
        self.committed = _State()
        self._lock = threading.RLock()
        self._local = threading.local()

    def _work(self) -> _State:
        work: _State | None = getattr(self._local, "work", None)
        if work is None:
            raise RuntimeError("use the unit of work inside a `with` block")
        return work

    @property
    def accounts(self) -> InMemoryAccounts:
        return InMemoryAccounts(self._work())

    @property
    def tokens(self) -> InMemoryTokens:
        return InMemoryTokens(self._work())

    @property
    def attempts(self) -> InMemoryAttempts:
        return InMemoryAttempts(self._work())

    @property
    def config(self) -> InMemoryConfig:
        return InMemoryConfig(self._work())

    def __enter__(self) -> Self:
        with self._lock:
            self._local.work = copy.deepcopy(self.committed)
        return self

    def __exit__(self, *exc: object) -> None:
        self._local.work = None

    def commit(self) -> None:
        with self._lock:
            self.committed = copy.deepcopy(self._work())
