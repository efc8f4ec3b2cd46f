"""The config store in SQL: named values every process shares (the shared keys)."""

from __future__ import annotations

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from hookmail.adapters.sql.rows import ConfigRow


class SqlConfigStore:
    def __init__(self, session: Session) -> None:
        self._session = session

    def get(self, name: str) -> str | None:
        row = self._session.get(ConfigRow, name)
        return row.value if row else None

    def put_if_absent(self, name: str, value: str) -> None:
        dialect = self._session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        self._session.execute(
            insert(ConfigRow).values(name=name, value=value).on_conflict_do_nothing()
        )
