"""SQL repository of domains."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hookmail.adapters.sql.rows import DomainRow
from hookmail.core.domains import Domain, DomainName
from hookmail.core.errors import DomainTaken


def domain_from_row(row: DomainRow) -> Domain:
    return Domain(
        id=row.id,
        account_id=row.account_id,
        name=DomainName(row.name),
        verification_token=row.verification_token,
        verified=row.verified,
        is_public=row.is_public,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _domain_values(domain: Domain) -> dict[str, object]:
    return {
        "id": domain.id,
        "account_id": domain.account_id,
        "name": domain.name.value,
        "verification_token": domain.verification_token,
        "verified": domain.verified,
        "is_public": domain.is_public,
        "created_at": domain.created_at,
        "updated_at": domain.updated_at,
    }


class SqlDomainRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def get(self, domain_id: UUID) -> Domain | None:
        row = self._session.get(DomainRow, domain_id)
        return domain_from_row(row) if row else None

    def named(self, name: DomainName) -> list[Domain]:
        rows = self._session.scalars(select(DomainRow).where(DomainRow.name == name.value))
        return [domain_from_row(r) for r in rows]

    def visible_to(self, account_id: UUID) -> list[Domain]:
        rows = self._session.scalars(
            select(DomainRow)
            .where(or_(DomainRow.account_id == account_id, DomainRow.is_public))
            .order_by(DomainRow.created_at, DomainRow.name)
        )
        return [domain_from_row(r) for r in rows]

    def public(self) -> list[Domain]:
        return [
            domain_from_row(r)
            for r in self._session.scalars(select(DomainRow).where(DomainRow.is_public))
        ]

    def count_of_account(self, account_id: UUID) -> int:
        count = self._session.scalar(
            select(func.count()).select_from(DomainRow).where(DomainRow.account_id == account_id)
        )
        return int(count or 0)

    def save(self, domain: Domain) -> None:
        self._session.merge(DomainRow(**_domain_values(domain)))
        try:
            self._session.flush()
        except IntegrityError as exc:  # the verified-name or account-name unique index
            raise DomainTaken(domain.name.value) from exc

    def delete(self, domain_id: UUID) -> None:
        # webhooks (and their logs) go by ON DELETE CASCADE
        self._session.execute(delete(DomainRow).where(DomainRow.id == domain_id))
