"""The attempt log in SQL: timestamps per throttle key (login, SMTP AUTH, ...)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from hookmail.adapters.sql.rows import AttemptRow


class SqlAttemptLog:
    def __init__(self, session: Session) -> None:
        self._session = session

    def record(self, key: str, at: datetime) -> None:
        self._session.add(AttemptRow(key=key, at=at))
        self._session.flush()

    def since(self, key: str, since: datetime) -> list[datetime]:
        return list(
            self._session.scalars(
                select(AttemptRow.at)
                .where(AttemptRow.key == key, AttemptRow.at > since)
                .order_by(AttemptRow.at)
            )
        )

    def prune(self, before: datetime) -> None:
        self._session.execute(delete(AttemptRow).where(AttemptRow.at < before))
