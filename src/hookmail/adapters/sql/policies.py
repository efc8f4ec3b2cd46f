"""SQL repository of SMTP security policies."""

from __future__ import annotations

import json
from uuid import UUID

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from hookmail.adapters.sql.rows import PolicyRow
from hookmail.core.domains import DomainName
from hookmail.core.smtp_policies import Credential, SmtpPolicy, format_networks, parse_networks


def _domains(raw: str) -> tuple[DomainName, ...]:
    return tuple(DomainName(d) for d in raw.split(",") if d)


def policy_of(row: PolicyRow) -> SmtpPolicy:
    return SmtpPolicy(
        id=row.id,
        account_id=row.account_id,
        name=row.name,
        require_smtp_auth=row.require_smtp_auth,
        smtp_credentials=tuple(Credential(u, h) for u, h in json.loads(row.smtp_credentials)),
        allowed_source_ips=parse_networks(row.allowed_source_ips),
        require_spf=row.require_spf,
        allowed_spf_domains=_domains(row.allowed_spf_domains),
        require_dkim=row.require_dkim,
        allowed_dkim_domains=_domains(row.allowed_dkim_domains),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _row(policy: SmtpPolicy) -> PolicyRow:
    return PolicyRow(
        id=policy.id,
        account_id=policy.account_id,
        name=policy.name,
        require_smtp_auth=policy.require_smtp_auth,
        smtp_credentials=json.dumps([[c.user, c.password_hash] for c in policy.smtp_credentials]),
        allowed_source_ips=format_networks(policy.allowed_source_ips),
        require_spf=policy.require_spf,
        allowed_spf_domains=",".join(d.value for d in policy.allowed_spf_domains),
        require_dkim=policy.require_dkim,
        allowed_dkim_domains=",".join(d.value for d in policy.allowed_dkim_domains),
        created_at=policy.created_at,
        updated_at=policy.updated_at,
    )


class SqlPolicyRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def get(self, policy_id: UUID) -> SmtpPolicy | None:
        row = self._session.get(PolicyRow, policy_id)
        return policy_of(row) if row else None

    def of_account(self, account_id: UUID) -> list[SmtpPolicy]:
        rows = self._session.scalars(
            select(PolicyRow)
            .where(PolicyRow.account_id == account_id)
            .order_by(PolicyRow.created_at, PolicyRow.id)
        )
        return [policy_of(r) for r in rows]

    def save(self, policy: SmtpPolicy) -> None:
        self._session.merge(_row(policy))
        self._session.flush()

    def with_credential_user(self, user: str) -> list[SmtpPolicy]:
        # The JSON text holds ["user", "hash"] pairs: narrow in SQL, decide exactly here.
        needle = json.dumps(user)
        rows = self._session.scalars(
            select(PolicyRow).where(PolicyRow.smtp_credentials.contains(needle, autoescape=True))
        )
        found = [policy_of(r) for r in rows]
        return [p for p in found if any(c.user == user for c in p.smtp_credentials)]

    def delete(self, policy_id: UUID) -> None:
        self._session.execute(delete(PolicyRow).where(PolicyRow.id == policy_id))
