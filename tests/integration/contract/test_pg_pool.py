"""PostgreSQL pool liveness: a connection idle in the pool is pinged (and replaced when the
server dropped it) before use; one in steady use is not pinged (engine.py)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from hookmail.adapters.notify import pg_notify
from hookmail.adapters.sql import engine as engines
from hookmail.adapters.sql import raw
from tests.conftest import _PG_SKIP, PG_URL


@pytest.fixture
def pool() -> Iterator[Engine]:
    if _PG_SKIP:
        if os.environ.get("CI"):
            pytest.fail(_PG_SKIP)
        pytest.skip(_PG_SKIP)
    engine = engines.make_engine(PG_URL, pool_size=1, max_overflow=0)
    yield engine
    engine.dispose()


def _backend(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _kill(pid: int) -> None:
    admin = engines.make_engine(PG_URL)
    with admin.begin() as connection:
        assert connection.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar()
    admin.dispose()


def test_a_connection_the_server_dropped_while_idle_is_replaced_before_use(
    pool: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _backend(pool)
    _kill(first)
    monkeypatch.setattr(engines, "IDLE_PING", 0.0)  # idle long enough to be pinged
    assert _backend(pool) != first  # no error: the ping failed, the pool opened another


def test_a_connection_in_steady_use_is_not_pinged(
    pool: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _backend(pool)
    pings: list[object] = []
    monkeypatch.setattr(pool.dialect, "do_ping", pings.append)
    for _ in range(5):
        assert _backend(pool) == first
    assert pings == []
    # ...and so a connection dropped between two uses close together fails once, then the
    # pool replaces it
    _kill(first)
    with pytest.raises(OperationalError):
        _backend(pool)
    assert _backend(pool) != first
    monkeypatch.setattr(engines, "IDLE_PING", 0.0)
    _backend(pool)
    assert len(pings) == 1


def test_a_group_commit_that_fails_leaves_the_connection_as_it_was(pool: Engine) -> None:
    # raw.commit sends BEGIN, the writes kept back and COMMIT in one round trip, switching
    # psycopg to autocommit for that time; when a write fails, the transaction is rolled
    # back and the connection is transactional again (pool_size=1: the same connection)
    schema = f"pool_{uuid.uuid4().hex[:8]}"
    with pool.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        connection.execute(text(f'CREATE TABLE "{schema}".t (id int PRIMARY KEY)'))
    insert = f'INSERT INTO "{schema}".t (id) VALUES (?)'  # noqa: S608
    try:
        with Session(pool) as session:
            raw.write(session, "t", "insert", insert, [1])
            assert raw.commit(session)
            session.commit()
        with Session(pool) as session:
            raw.write(session, "t", "insert", insert, [1])  # sent with the commit
            with pytest.raises(IntegrityError):
                raw.commit(session)
        with Session(pool) as session:  # all or nothing: 3 is not stored without 1
            raw.write(session, "t", "insert", insert, [3])
            raw.write(session, "t", "insert", insert, [1])
            with pytest.raises(IntegrityError) as failed:
                raw.commit(session, [pg_notify("jobs")])
        # a group commit's values (a batch of mail) are not written into the error's text,
        # which is logged
        assert "parameters" not in str(failed.value)
        with pool.connect() as connection:
            assert connection.connection.driver_connection.autocommit is False  # type: ignore[union-attr]
            connection.execute(text(f'INSERT INTO "{schema}".t (id) VALUES (2)'))  # noqa: S608
            connection.rollback()  # not kept: the insert was in a transaction
            rows = connection.execute(text(f'SELECT id FROM "{schema}".t')).scalars().all()  # noqa: S608
        assert rows == [1]
    finally:
        with pool.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
