"""Retention sweeps (SPEC §6.7) on SQLite and PostgreSQL: thousands of expired messages go
in short batches while the SMTP worker keeps answering 250 over a real socket, and the
delivery worker runs the sweeper every SWEEP_INTERVAL."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest
from attrs import evolve
from sqlalchemy import Engine, event

from hookmail.adapters.notify import JOBS
from hookmail.core.deliveries import DeliveryJob, JobStatus
from hookmail.core.mail import AuthResults, Envelope, InboundMessage
from hookmail.core.services.retention import RetentionPolicy, SweepReport
from hookmail.entrypoints.deliver import DeliveryWorker
from hookmail.entrypoints.sweeper import Sweeper
from tests.builders import a_log
from tests.conftest import SQL_STORES, clean_engine
from tests.dns_server import DnsServer
from tests.mailstack import MailStack, mail_stack
from tests.receiver import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

RAW = b"From: carol@example.org\r\nSubject: kept\r\n\r\nhello\r\n"
KEEP = timedelta(days=30)


@pytest.fixture(params=SQL_STORES)
def engine(request: pytest.FixtureRequest) -> Engine:
    return clean_engine(request, request.param)


@pytest.fixture
def stack(engine: Engine, dns: DnsServer) -> Iterator[MailStack]:
    with mail_stack(engine, dns, deliver=False) as running:
        yield running


def _seed_expired(stack: MailStack, webhook_id: str, account: str, count: int) -> list[UUID]:
    """`count` delivered messages received a day past the retention, each with its job and
    its attempt's log row, written straight to the store."""
    uow = stack.container.uow()
    received = stack.api.clock.now() - KEEP - timedelta(days=1)
    messages, jobs, logs = [], [], []
    for n in range(count):
        message = InboundMessage.receive(
            raw=RAW,
            envelope=Envelope(mail_from="a@example.org", rcpt_to=("x",), remote_ip="::1", helo="h"),
            auth=AuthResults(),
            now=received + timedelta(milliseconds=n),
            message_id=None,
        )
        job = DeliveryJob.new(
            message_id=message.id,
            webhook_id=UUID(webhook_id),
            account_id=UUID(account),
            recipients=("x",),
            now=message.received_at,
        )
        messages.append(message)
        jobs.append(evolve(job, status=JobStatus.DELIVERED, attempts=1))
        logs.append(a_log(job.webhook_id, attempted_at=message.received_at, job_id=job.id))
    with uow:
        uow.messages.add_many(messages)
        uow.jobs.add_many(jobs)
        uow.delivery_logs.add_many(logs)
        uow.commit()
    return [m.id for m in messages]


def _user(stack: MailStack) -> tuple[str, str]:
    alice = stack.api.new_user("alice@example.com")
    account = stack.api.call("GET", "/api/v1/accounts/me", alice).json["id"]
    return alice, str(account)


def test_five_thousand_expired_messages_go_in_batches_while_smtp_accepts(
    stack: MailStack, engine: Engine
) -> None:
    count, batch = 5000, 500
    alice, account = _user(stack)
    hook = stack.webhook(alice, "bulk", "http://127.0.0.1:9/")
    stack.webhook(alice, "live", "http://127.0.0.1:9/")
    expired = _seed_expired(stack, hook["id"], account, count)
    sweeper = Sweeper(
        stack.container.uow,
        stack.api.clock,
        RetentionPolicy(keep=KEEP, batch=batch),
        pause=0.05,  # what `hookmail deliver` uses on SQLite
    )
    sweep_commits: list[float] = []

    def committed(*_: Any) -> None:
        if threading.current_thread().name == "sweep":
            sweep_commits.append(time.monotonic())

    event.listen(engine, "commit", committed)
    result: dict[str, Any] = {}
    stop = threading.Event()

    def sweep() -> None:
        started = time.monotonic()
        result["report"] = sweeper.sweep_once(stop)
        result["seconds"] = time.monotonic() - started

    sweeping = threading.Thread(target=sweep, name="sweep")
    accepted_at: list[float] = []
    latencies: list[float] = []
    kept: list[str] = []
    try:
        sweeping.start()
        deadline = time.monotonic() + 120
        while (sweeping.is_alive() or len(kept) < 3) and time.monotonic() < deadline:
            sent = time.monotonic()
            kept.append(stack.send(RAW, "live"))  # asserts the 250
            accepted_at.append(time.monotonic())
            latencies.append(accepted_at[-1] - sent)
        sweeping.join(timeout=120)
    finally:
        event.remove(engine, "commit", committed)
    report: SweepReport = result["report"]
    assert (report.messages, report.finished) == (count, True)
    # one transaction per batch: 10 full batches of messages, the empty one that ends them,
    # one of log rows, and the pruning of tokens, sessions and counters
    assert report.batches == count // batch + 2
    assert len(sweep_commits) == report.batches + 1
    # mail was accepted while the sweep was going on, between its batches
    during = [t for t in accepted_at if sweep_commits[0] < t < sweep_commits[-1]]
    assert during, "no 250 between the sweep's first and last batch"
    with stack.container.uow() as uow:
        assert uow.messages.get_many(set(expired)) == {}
        assert uow.jobs.pending() == len(kept)  # the new mail waits for delivery, untouched
        assert len(uow.messages.get_many({UUID(k) for k in kept})) == len(kept)
        assert uow.delivery_logs.of_webhook(UUID(hook["id"]), offset=0, limit=10) == []
    print(  # the figure the closing note quotes
        f"\n{engine.dialect.name}: swept {count} messages in {result['seconds']:.2f} s "
        f"({len(sweep_commits)} commits); {len(kept)} SMTP messages accepted meanwhile "
        f"({len(during)} between its batches), median "
        f"{sorted(latencies)[len(latencies) // 2] * 1000:.0f} ms, "
        f"slowest {max(latencies) * 1000:.0f} ms"
    )


def test_the_delivery_worker_sweeps_every_sweep_interval(stack: MailStack) -> None:
    alice, account = _user(stack)
    hook = stack.webhook(alice, "bulk", "http://127.0.0.1:9/")
    first = _seed_expired(stack, hook["id"], account, 3)
    sweeper = Sweeper(
        stack.container.uow, stack.api.clock, RetentionPolicy(keep=KEEP), interval=0.2
    )
    worker = DeliveryWorker(
        stack.container.uow,
        stack.container.clock(),
        stack.container.transport(),
        stack.container.delivery_config(),
        poll_interval=0.05,
        listener=stack.container.notifier().listen(JOBS),
        sweeper=sweeper,
    )
    stop = threading.Event()
    running = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    running.start()
    try:
        wait_for(lambda: sweeper.sweeps >= 1, what="the first sweep")
        with stack.container.uow() as uow:
            assert uow.messages.get_many(set(first)) == {}
        later = _seed_expired(stack, hook["id"], account, 2)
        seen = sweeper.sweeps
        wait_for(lambda: sweeper.sweeps >= seen + 2, what="two more sweeps")
        with stack.container.uow() as uow:
            assert uow.messages.get_many(set(later)) == {}
    finally:
        stop.set()
        running.join(timeout=30)
    assert not running.is_alive()
    assert sweeper.last is not None
    assert sweeper.last.finished
