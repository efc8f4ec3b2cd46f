"""A new, migrated store for one bench run: a SQLite file, or a schema of its own on a
PostgreSQL server (dropped when the run ends)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import text

from hookmail.adapters.sql.engine import make_engine, migrate


@contextlib.contextmanager
def fresh_store(folder: Path, postgres: str | None = None) -> Iterator[str]:
    """The URL of a new store: `folder`/bench.db, or with `postgres` (a server's URL) a new
    schema there, dropped on the way out."""
    if not postgres:
        database = f"sqlite:///{folder / 'bench.db'}"
        migrate(make_engine(database))
        yield database
        return
    schema = f"hookmail_bench_{uuid.uuid4().hex[:8]}"
    with make_engine(postgres).begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        database = f"{postgres}?options=-csearch_path%3D{schema}"
        migrate(make_engine(database))
        yield database
    finally:
        with make_engine(postgres).begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
