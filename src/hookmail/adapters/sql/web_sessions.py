"""Dashboard sessions in the store, so every API worker sees a sign-in and a sign-out."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from hookmail.adapters.sql.rows import WebSessionRow
from hookmail.core.web_sessions import WebSession


def _web_session_from_row(row: WebSessionRow) -> WebSession:
    return WebSession(
        id=row.id,
        account_id=row.account_id,
        token_hash=row.token_hash,
        token_version=row.token_version,
        created_at=row.created_at,
        expires_at=row.expires_at,
    )


def _web_session_values(web_session: WebSession) -> dict[str, object]:
    return {
        "id": web_session.id,
        "account_id": web_session.account_id,
        "token_hash": web_session.token_hash,
        "token_version": web_session.token_version,
        "created_at": web_session.created_at,
        "expires_at": web_session.expires_at,
    }


class SqlWebSessionRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, web_session: WebSession) -> None:
        self._session.add(WebSessionRow(**_web_session_values(web_session)))
        self._session.flush()

    def by_hash(self, token_hash: str) -> WebSession | None:
        row = self._session.scalars(
            select(WebSessionRow).where(WebSessionRow.token_hash == token_hash)
        ).first()
        return _web_session_from_row(row) if row else None

    def delete(self, session_id: UUID) -> None:
        self._session.execute(delete(WebSessionRow).where(WebSessionRow.id == session_id))

    def prune(self, before: datetime) -> None:
        self._session.execute(delete(WebSessionRow).where(WebSessionRow.expires_at < before))
