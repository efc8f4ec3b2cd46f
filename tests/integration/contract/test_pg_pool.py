"""PostgreSQL pool liveness: a connection idle in the pool is pinged (and replaced when the
server dropped it) before use; one in steady use is not pinged (engine.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from hookmail.adapters.sql import engine as engines
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
