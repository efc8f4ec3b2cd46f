"""SMTP security policy use cases."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from attrs import frozen

from hookmail.core.errors import PolicyInUse, PolicyNotFound, QuotaExceeded
from hookmail.core.paging import Page
from hookmail.core.ports import Clock, CredentialHasher, UnitOfWork
from hookmail.core.quotas import Quotas, ensure_room
from hookmail.core.smtp_policies import (
    SmtpPolicy,
    check_name,
    parse_credentials,
    parse_domains,
    parse_networks,
)


@frozen(kw_only=True)
class PolicyInput:
    """Raw fields from a request; None means "not given" (keep, or default on create)."""

    name: str | None = None
    require_smtp_auth: bool | None = None
    smtp_credentials: str | None = None
    allowed_source_ips: str | None = None
    require_spf: bool | None = None
    allowed_spf_domains: str | None = None
    require_dkim: bool | None = None
    allowed_dkim_domains: str | None = None
    require_dmarc: bool | None = None


def _changes(given: PolicyInput, stored: SmtpPolicy, hasher: CredentialHasher) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if given.name is not None:
        changes["name"] = check_name(given.name)
    for flag in ("require_smtp_auth", "require_spf", "require_dkim", "require_dmarc"):
        if getattr(given, flag) is not None:
            changes[flag] = getattr(given, flag)
    if given.smtp_credentials is not None:
        changes["smtp_credentials"] = parse_credentials(
            given.smtp_credentials, stored=stored.smtp_credentials, hash_password=hasher.hash
        )
    if given.allowed_source_ips is not None:
        changes["allowed_source_ips"] = parse_networks(given.allowed_source_ips)
    for field in ("allowed_spf_domains", "allowed_dkim_domains"):
        raw = getattr(given, field)
        if raw is not None:
            changes[field] = parse_domains(raw, field)
    return changes


def create_policy(
    uow: UnitOfWork,
    clock: Clock,
    hasher: CredentialHasher,
    quotas: Quotas,
    *,
    account_id: UUID,
    given: PolicyInput,
) -> SmtpPolicy:
    """A new policy; `409 quota_exceeded` past the account's quota. The quota is looked at
    before any password is hashed (so a full account costs no hashing), and counted again
    under the account's lock when the policy is stored."""
    now = clock.now()
    blank = SmtpPolicy.new(account_id=account_id, name=check_name(given.name or ""), now=now)
    with uow.reading():
        if uow.policies.count_of_account(account_id) >= quotas.policies:
            raise QuotaExceeded("SMTP policies", quotas.policies)
    policy = blank.changed(now, **_changes(given, blank, hasher))
    with uow:
        ensure_room(
            uow, account_id, "SMTP policies", uow.policies.count_of_account, quotas.policies
        )
        uow.policies.save(policy)
        uow.commit()
    return policy


def _own(uow: UnitOfWork, account_id: UUID, policy_id: UUID) -> SmtpPolicy:
    policy = uow.policies.get(policy_id)
    if policy is None or policy.account_id != account_id:
        raise PolicyNotFound
    return policy


def list_policies(
    uow: UnitOfWork, *, account_id: UUID, page: Page | None = None
) -> list[SmtpPolicy]:
    """Oldest first; one page, or all of them (at most the quota) without `page`."""
    with uow.reading():
        found = uow.policies.of_account(account_id)
    return page.of(found) if page else found


def get_policy(uow: UnitOfWork, *, account_id: UUID, policy_id: UUID) -> SmtpPolicy:
    with uow.reading():
        return _own(uow, account_id, policy_id)


def update_policy(
    uow: UnitOfWork,
    clock: Clock,
    hasher: CredentialHasher,
    *,
    account_id: UUID,
    policy_id: UUID,
    given: PolicyInput,
) -> SmtpPolicy:
    """Change the fields given; a masked credential keeps its stored password.

    Passwords are hashed between two transactions, never inside one: 20 hashes take ~2 s,
    and SQLite's write lock would stop every SMTP commit meanwhile.
    """
    with uow.reading():
        stored = _own(uow, account_id, policy_id)
    policy = stored.changed(clock.now(), **_changes(given, stored, hasher))
    with uow:
        _own(uow, account_id, policy_id)  # still there, still theirs
        uow.policies.save(policy)
        uow.commit()
    return policy


def delete_policy(uow: UnitOfWork, *, account_id: UUID, policy_id: UUID) -> None:
    with uow:
        _own(uow, account_id, policy_id)
        if uow.webhooks.using_policy(policy_id):
            raise PolicyInUse
        uow.policies.delete(policy_id)
        uow.commit()
