"""Builders of domain objects for tests: a_thing(**overrides)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from attrs import evolve

from hookmail.core.accounts import Account
from hookmail.core.tokens import IssuedToken, TokenKind

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
