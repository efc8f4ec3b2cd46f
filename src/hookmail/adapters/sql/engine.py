"""Engines for SQLite (the embedded default) and PostgreSQL, and schema migration."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).parent / "migrations"


def _sqlite_pragmas(dbapi_connection: Any, _record: object) -> None:
    # Autocommit at the driver level, so the "begin" hook below decides how transactions start.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")  # a 250 after DATA must survive power loss
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


READ_ONLY = "hookmail_read_only"


def _sqlite_begin(connection: Any) -> None:
    # A transaction that may write takes the write lock up front: a deferred one that reads,
    # then writes, fails at once with SQLITE_BUSY when another process wrote in between;
    # this one waits. A read-only one (SqlUnitOfWork.reading()) takes no lock at all.
    if connection.get_execution_options().get(READ_ONLY):
        connection.exec_driver_sql("BEGIN")
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for `url` with the settings hookmail relies on for durability."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        kwargs.setdefault("connect_args", {}).update(timeout=30, check_same_thread=False)
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if parsed.get_backend_name() == "postgresql":
        kwargs.setdefault("pool_pre_ping", True)
        engine = create_engine(url, **kwargs)

        @event.listens_for(engine, "connect")
        def _durable(dbapi_connection: Any, _record: object) -> None:
            with dbapi_connection.cursor() as cursor:
                cursor.execute("SET synchronous_commit = on")
            dbapi_connection.commit()

        return engine
    raise ValueError(f"unsupported database {parsed.get_backend_name()!r}")


def make_sessions(engine: Engine) -> sessionmaker[Session]:
    from hookmail.adapters.sql.uow import track_writes

    sessions = sessionmaker(bind=engine, expire_on_commit=False)
    track_writes(sessions)
    return sessions


def _alembic(engine: Engine, step: Any, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        step(config, revision)


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision` with Alembic (never create_all)."""
    _alembic(engine, command.upgrade, revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Take the schema back to `revision` (the migrations' own tests go down and up)."""
    _alembic(engine, command.downgrade, revision)


def ping(engine: Engine) -> None:
    """Raise if the store can't be reached."""
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
