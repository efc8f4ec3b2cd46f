"""Builders of domain objects for tests: a_thing(**overrides)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from attrs import evolve

from hookmail.adapters.memory import (
    FakeAccessTokens,
    FixedClock,
    InMemoryUnitOfWork,
    PermissiveEmailSyntax,
    PlainPasswordHasher,
    RecordingMailer,
    StubResolver,
)
from hookmail.core.accounts import Account
from hookmail.core.throttle import Limits
from hookmail.core.tokens import IssuedToken, TokenKind
from hookmail.entrypoints.http.context import Ports

NOW = datetime(2026, 4, 2, 12, 0, tzinfo=UTC)


def an_account(**overrides: Any) -> Account:
    account = Account.open(
        email=f"user-{uuid4().hex[:8]}@example.com", password_hash="plain$password1", now=NOW
    )
    return evolve(account, **overrides)


def a_token(account_id: UUID, **overrides: Any) -> tuple[IssuedToken, str]:
    token, plain = IssuedToken.issue(
        kind=overrides.pop("kind", TokenKind.REFRESH),
        account_id=account_id,
        now=overrides.pop("now", NOW),
        ttl=overrides.pop("ttl", timedelta(days=30)),
        family_id=overrides.pop("family_id", None),
    )
    return evolve(token, **overrides), plain


def memory_ports(**overrides: Any) -> Ports:
    """The app's ports, all fakes: an app with no I/O at all."""
    defaults: dict[str, Any] = {
        "uow": InMemoryUnitOfWork(),
        "clock": FixedClock(),
        "hasher": PlainPasswordHasher(),
        "emails": PermissiveEmailSyntax(),
        "access_tokens": FakeAccessTokens(),
        "mailer": RecordingMailer(),
        "limits": Limits(),
        "dns": StubResolver(),
        "public_url": "http://127.0.0.1:8000",
    }
    defaults.update(overrides)
    shared_uow = defaults.pop("uow")
    return Ports(uow=lambda: shared_uow, **defaults)
