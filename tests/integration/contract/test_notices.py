"""Notices between processes sharing a store: the SQL unit of work sends "jobs" when jobs are
inserted and "routes" when routing changes, on commit only; listeners hear them at once
(SQLite: datagrams on one machine; PostgreSQL: NOTIFY/LISTEN)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from attrs import evolve
from sqlalchemy import delete, false

from hookmail.adapters.notify import (
    JOBS,
    ROUTES,
    Listener,
    PgListener,
    SocketNotifier,
    notifier_for,
)
from hookmail.adapters.sql.engine import make_sessions
from hookmail.adapters.sql.rows import AccountRow
from hookmail.adapters.sql.uow import SqlUnitOfWork
from hookmail.adapters.sql.writes import TOUCHED
from tests.conftest import SQL_STORES, clean_engine
from tests.integration.contract.test_queue_store import _enqueue, _setup


def _heard(listener: Listener, within: float = 5.0) -> bool:
    """Whether a notice arrives within `within` seconds (a deadline, not a timing claim)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if listener.wait(0.1):
            return True
    return False


@pytest.fixture(params=SQL_STORES)
def store(request: pytest.FixtureRequest) -> Iterator[tuple[SqlUnitOfWork, Listener, Listener]]:
    engine = clean_engine(request, request.param)
    notifier = notifier_for(engine)
    jobs, routes = notifier.listen(JOBS), notifier.listen(ROUTES)
    for listener in (jobs, routes):
        if isinstance(listener, PgListener):  # it says "connected" once, when LISTEN is in place
            assert listener.ready.wait(10)
        listener.poll()
    yield SqlUnitOfWork(make_sessions(engine), notifier), jobs, routes
    jobs.close()
    routes.close()


def test_new_jobs_and_route_changes_are_heard_after_commit(
    store: tuple[SqlUnitOfWork, Listener, Listener],
) -> None:
    uow, jobs, routes = store
    _, hook, _ = _setup(uow)
    assert _heard(routes), "a new webhook changes routing"
    assert not jobs.poll()
    _enqueue(uow, hook, 2)
    assert _heard(jobs), "new jobs wake the delivery workers"
    with uow:
        uow.webhooks.save(evolve(hook, active=False))
        uow.commit()
    assert _heard(routes), "a paused webhook must be refused at RCPT at once"


def test_nothing_is_heard_of_a_transaction_that_does_not_commit(
    store: tuple[SqlUnitOfWork, Listener, Listener],
) -> None:
    uow, jobs, routes = store
    _, hook, _ = _setup(uow)
    _heard(routes)
    with uow:
        uow.webhooks.save(evolve(hook, active=False))  # rolled back on leaving the block
    assert not _heard(routes, 0.5)
    assert not jobs.poll()


def test_a_listener_that_comes_later_hears_the_next_notice(tmp_path: Path) -> None:
    """The SQLite notifier keeps its listing of listeners while their directory is unchanged:
    a process that starts listening later must still be told."""
    notifier = SocketNotifier(tmp_path / "sockets")
    first = notifier.listen(JOBS)
    settled = time.time() - 60  # as if the directory had last changed a minute ago
    os.utime(tmp_path / "sockets", (settled, settled))
    notifier.notify([JOBS])
    assert first.poll()
    second = notifier.listen(JOBS)  # binding its socket changes the directory
    notifier.notify([JOBS])
    third = notifier.listen(JOBS)  # within the same second: the listing is read again
    notifier.notify([JOBS])
    assert [first.poll(), second.poll(), third.poll()] == [True, True, True]
    third.close()
    notifier.notify([JOBS])
    assert [first.poll(), second.poll()] == [True, True]
    assert len(list((tmp_path / "sockets").glob("jobs.*.sock"))) == 2, "a closed one's is gone"
    for listener in (first, second):
        listener.close()


def test_every_new_sessionmaker_tracks_its_writes(request: pytest.FixtureRequest) -> None:
    """Each make_sessions() registers its own write tracking: a freed sessionmaker's id,
    reused by the next one, must not pass for "already tracked" (notices were lost so)."""
    engine = clean_engine(request, "sqlite")
    for attempt in range(300):
        with make_sessions(engine)() as session:
            session.execute(delete(AccountRow).where(false()))
            assert session.info.get(TOUCHED) == {("accounts", "change")}, attempt
