"""Builders of domain objects for tests: a_thing(**overrides)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from attrs import evolve

from hookmail.core.accounts import Account
from hookmail.core.deliveries import DeliveryLog, DeliveryStatus
from hookmail.core.domains import Domain, DomainName
from hookmail.core.smtp_policies import SmtpPolicy
from hookmail.core.tokens import IssuedToken, TokenKind
from hookmail.core.webhooks import Address, Webhook, new_secret

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


def a_domain(account_id: UUID | None, name: str = "example.com", **overrides: Any) -> Domain:
    if account_id is None:
        return evolve(Domain.public(name=DomainName.parse(name), now=NOW), **overrides)
    domain = Domain.claim(account_id=account_id, name=DomainName.parse(name), now=NOW)
    return evolve(domain, **overrides)


def a_policy(account_id: UUID, **overrides: Any) -> SmtpPolicy:
    return evolve(SmtpPolicy.new(account_id=account_id, name="policy", now=NOW), **overrides)


def a_webhook(domain: Domain, account_id: UUID, local: str = "inbox", **overrides: Any) -> Webhook:
    webhook = Webhook.new(
        account_id=account_id,
        domain_id=domain.id,
        address=Address(local, domain.name),
        target_url="https://hooks.example.net/in",
        secret=new_secret(),
        now=NOW,
    )
    return evolve(webhook, **overrides)


def a_log(webhook_id: UUID, **overrides: Any) -> DeliveryLog:
    fields: dict[str, Any] = {
        "webhook_id": webhook_id,
        "attempted_at": NOW,
        "duration_ms": 12,
        "http_status": 200,
        "error": None,
        "sender": "sender@example.org",
        "smtp_message_id": "<m1@example.org>",
        "attempt": 1,
        "status": DeliveryStatus.DELIVERED,
    }
    fields.update(overrides)
    return DeliveryLog.record(**fields)
