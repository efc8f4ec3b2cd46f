"""Engines for SQLite (the embedded default) and PostgreSQL, and schema migration."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, exc, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from hookmail.adapters.sql import raw

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

# A pooled PostgreSQL connection idle longer than this is pinged before use.
IDLE_PING = 5.0


def _sqlite_begin(connection: Any) -> None:
    # A transaction that may write takes the write lock up front: a deferred one that reads,
    # then writes, fails at once with SQLITE_BUSY when another process wrote in between;
    # this one waits. A read-only one (SqlUnitOfWork.reading()) takes no lock at all.
    # on the driver's cursor (raw.on_driver): this runs in every transaction of the hot paths
    read_only = connection.get_execution_options().get(READ_ONLY)
    raw.on_driver(connection, "BEGIN" if read_only else "BEGIN IMMEDIATE", ())


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
        engine = create_engine(url, **kwargs)
        if "pool_pre_ping" not in kwargs:
            _ping_when_idle(engine)
        _send_writes_kept_back(engine)

        @event.listens_for(engine, "connect")
        def _durable(dbapi_connection: Any, _record: object) -> None:
            with dbapi_connection.cursor() as cursor:
                cursor.execute("SET synchronous_commit = on")
            dbapi_connection.commit()

        return engine
    raise ValueError(f"unsupported database {parsed.get_backend_name()!r}")


def _ping_when_idle(engine: Engine) -> None:
    """SQLAlchemy's pool_pre_ping costs a round trip to the server each time a connection
    is taken from the pool: one more per transaction, on every SMTP group commit and every
    store pass of the delivery worker. A connection in use all the time is known to be
    alive; one that sat in the pool for IDLE_PING seconds (the server may have restarted
    meanwhile) is pinged, and replaced if the ping fails (SQLAlchemy's "pessimistic
    disconnect handling", with a custom check). A connection lost between two uses close
    together fails its transaction, which the pool then replaces, as with pre-ping's own
    window between the ping and the statement."""

    @event.listens_for(engine, "checkin")
    def _idle(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _alive(dbapi_connection: Any, record: Any, _proxy: object) -> None:
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < IDLE_PING:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as error:  # the pool drops it and takes (or opens) another
            raise exc.DisconnectionError() from error


def _send_writes_kept_back(engine: Engine) -> None:
    """raw.py keeps writes back on PostgreSQL, to send them with the next statement: they
    go before any statement of SQLAlchemy's and before a commit, and are dropped when the
    transaction rolls back or the connection goes back to the pool."""

    @event.listens_for(engine, "before_cursor_execute")
    def _before(connection: Any, *_args: object) -> None:
        raw.send_deferred(connection)

    @event.listens_for(engine, "commit")
    def _committing(connection: Any) -> None:
        raw.send_deferred(connection)

    @event.listens_for(engine, "rollback")
    def _rolled_back(connection: Any) -> None:
        raw.drop_deferred(connection)

    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_connection: Any, record: Any) -> None:
        record.info.pop(raw.DEFERRED, None)  # a connection given back never keeps any


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
