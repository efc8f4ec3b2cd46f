"""Issued tokens in SQL (refresh, reset, ...): stored by hash, rotated by family."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from hookmail.adapters.sql.rows import IssuedTokenRow
from hookmail.core.tokens import IssuedToken, TokenKind


def _token_from_row(row: IssuedTokenRow) -> IssuedToken:
    return IssuedToken(
        id=row.id,
        kind=TokenKind(row.kind),
        account_id=row.account_id,
        token_hash=row.token_hash,
        family_id=row.family_id,
        created_at=row.created_at,
        expires_at=row.expires_at,
        used_at=row.used_at,
    )


def _token_values(token: IssuedToken) -> dict[str, object]:
    return {
        "id": token.id,
        "kind": token.kind.value,
        "account_id": token.account_id,
        "token_hash": token.token_hash,
        "family_id": token.family_id,
        "created_at": token.created_at,
        "expires_at": token.expires_at,
        "used_at": token.used_at,
    }


class SqlTokenRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, token: IssuedToken) -> None:
        self._session.add(IssuedTokenRow(**_token_values(token)))
        self._session.flush()

    def by_hash(self, kind: TokenKind, token_hash: str) -> IssuedToken | None:
        # FOR UPDATE: two requests racing with one refresh token must not both rotate it.
        row = self._session.scalars(
            select(IssuedTokenRow)
            .where(IssuedTokenRow.kind == kind.value, IssuedTokenRow.token_hash == token_hash)
            .with_for_update()
        ).first()
        return _token_from_row(row) if row else None

    def save(self, token: IssuedToken) -> None:
        self._session.merge(IssuedTokenRow(**_token_values(token)))
        self._session.flush()

    def revoke_family(self, family_id: UUID, now: datetime) -> None:
        self._session.execute(
            update(IssuedTokenRow)
            .where(IssuedTokenRow.family_id == family_id, IssuedTokenRow.used_at.is_(None))
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )

    def revoke_all(self, account_id: UUID, kind: TokenKind, now: datetime) -> None:
        self._session.execute(
            update(IssuedTokenRow)
            .where(
                IssuedTokenRow.account_id == account_id,
                IssuedTokenRow.kind == kind.value,
                IssuedTokenRow.used_at.is_(None),
            )
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )

    def prune(self, before: datetime) -> None:
        self._session.execute(delete(IssuedTokenRow).where(IssuedTokenRow.expires_at < before))
