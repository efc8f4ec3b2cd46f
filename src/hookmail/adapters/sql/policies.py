"""SQL repository of SMTP security policies; their credentials live in a table of their own,
indexed by user name, so SMTP AUTH finds a login by equality (docs/architecture.md)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.orm import Session

from hookmail.adapters.sql.rows import CredentialRow, PolicyRow
from hookmail.core.domains import DomainName
from hookmail.core.smtp_policies import (
    Credential,
    SmtpPolicy,
    StoredLogin,
    format_networks,
    parse_networks,
)


def _domains(raw: str) -> tuple[DomainName, ...]:
    return tuple(DomainName(d) for d in raw.split(",") if d)


def policy_from_row(row: Any, credentials: tuple[Credential, ...] = ()) -> SmtpPolicy:
    """The policy of a row (an ORM row or anything with its columns). RCPT reads policies
    without their credentials: it needs only which policies a session logged in to."""
    return SmtpPolicy(
        id=row.id,
        account_id=row.account_id,
        name=row.name,
        require_smtp_auth=row.require_smtp_auth,
        smtp_credentials=credentials,
        allowed_source_ips=parse_networks(row.allowed_source_ips),
        require_spf=row.require_spf,
        allowed_spf_domains=_domains(row.allowed_spf_domains),
        require_dkim=row.require_dkim,
        allowed_dkim_domains=_domains(row.allowed_dkim_domains),
        require_dmarc=row.require_dmarc,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _policy_values(policy: SmtpPolicy) -> dict[str, object]:
    return {
        "id": policy.id,
        "account_id": policy.account_id,
        "name": policy.name,
        "require_smtp_auth": policy.require_smtp_auth,
        "allowed_source_ips": format_networks(policy.allowed_source_ips),
        "require_spf": policy.require_spf,
        "allowed_spf_domains": ",".join(d.value for d in policy.allowed_spf_domains),
        "require_dkim": policy.require_dkim,
        "allowed_dkim_domains": ",".join(d.value for d in policy.allowed_dkim_domains),
        "require_dmarc": policy.require_dmarc,
        "created_at": policy.created_at,
        "updated_at": policy.updated_at,
    }


class SqlPolicyRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def _credentials(self, policy_ids: Iterable[UUID]) -> dict[UUID, tuple[Credential, ...]]:
        ids = list(policy_ids)
        found: dict[UUID, list[Credential]] = {i: [] for i in ids}
        if ids:
            rows = self._session.execute(
                select(CredentialRow.policy_id, CredentialRow.username, CredentialRow.password_hash)
                .where(CredentialRow.policy_id.in_(ids))
                .order_by(CredentialRow.policy_id, CredentialRow.position)
            )
            for policy_id, user, password_hash in rows:
                found[policy_id].append(Credential(user, password_hash))
        return {i: tuple(c) for i, c in found.items()}

    def get(self, policy_id: UUID) -> SmtpPolicy | None:
        row = self._session.get(PolicyRow, policy_id)
        return policy_from_row(row, self._credentials([row.id])[row.id]) if row else None

    def of_account(self, account_id: UUID) -> list[SmtpPolicy]:
        rows = list(
            self._session.scalars(
                select(PolicyRow)
                .where(PolicyRow.account_id == account_id)
                .order_by(PolicyRow.created_at, PolicyRow.id)
            )
        )
        credentials = self._credentials(r.id for r in rows)
        return [policy_from_row(r, credentials[r.id]) for r in rows]

    def save(self, policy: SmtpPolicy) -> None:
        self._session.merge(PolicyRow(**_policy_values(policy)))
        self._session.flush()
        self._session.execute(delete(CredentialRow).where(CredentialRow.policy_id == policy.id))
        if policy.smtp_credentials:  # Core statements: no ORM identities to clash on re-save
            self._session.execute(
                insert(CredentialRow),
                [
                    {
                        "policy_id": policy.id,
                        "username": c.user,
                        "position": position,
                        "password_hash": c.password_hash,
                    }
                    for position, c in enumerate(policy.smtp_credentials)
                ],
            )

    def count_of_account(self, account_id: UUID) -> int:
        count = self._session.scalar(
            select(func.count()).select_from(PolicyRow).where(PolicyRow.account_id == account_id)
        )
        return int(count or 0)

    def logins(self, user: str, *, digest: str, keyed_prefix: str) -> list[StoredLogin]:
        rows = self._session.execute(
            select(CredentialRow.policy_id, CredentialRow.password_hash).where(
                CredentialRow.username == user,
                or_(
                    CredentialRow.password_hash == digest,
                    ~CredentialRow.password_hash.startswith(keyed_prefix, autoescape=True),
                ),
            )
        )
        return [StoredLogin(policy_id, user, password_hash) for policy_id, password_hash in rows]

    def rehash(self, policy_id: UUID, user: str, *, old: str, new: str) -> None:
        self._session.execute(
            update(CredentialRow)
            .where(
                CredentialRow.policy_id == policy_id,
                CredentialRow.username == user,
                CredentialRow.password_hash == old,
            )
            .values(password_hash=new)
        )

    def delete(self, policy_id: UUID) -> None:
        self._session.execute(delete(CredentialRow).where(CredentialRow.policy_id == policy_id))
        self._session.execute(delete(PolicyRow).where(PolicyRow.id == policy_id))
