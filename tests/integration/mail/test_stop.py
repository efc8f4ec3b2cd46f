"""SIGTERM to a `hookmail deliver` process busy with a slow target: it stops within one
attempt's time (not twice DELIVERY_TIMEOUT), records the attempts in flight, leaves no job
claimed, and the next worker delivers the rest at once, without waiting for a lease."""

from __future__ import annotations

import json
import signal
import smtplib
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from hookmail.adapters.sql.rows import DeliveryLogRow, JobRow
from hookmail.core.services.webhooks import WebhookInput
from tests.integration.mail.processes import workers
from tests.receiver import receiver, wait_for
from tests.seed import PUBLIC, public_webhooks, wait_smtp

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

TIMEOUT = 10  # DELIVERY_TIMEOUT
SLOW = 3.0  # the target answers after this long
HOOKS = 12  # more webhooks than the fair share needs to fill the worker's 32 threads
MESSAGES = 8  # each to every webhook: 96 jobs


@pytest.mark.timeout(180)
def test_sigterm_stops_within_one_attempt_and_gives_back_what_it_claimed(tmp_path: Path) -> None:
    with (
        receiver() as target,
        workers(tmp_path, delivery_timeout=str(TIMEOUT), retry_schedule="60") as run,
    ):
        public_webhooks(
            run.uow,
            *[WebhookInput(address=f"h{i}@{PUBLIC}", target_url=target.url) for i in range(HOOKS)],
        )
        target.plan = [(200, {}, SLOW)] * 1000
        smtp = run.spawn("smtp")
        wait_smtp(run.port)
        with smtplib.SMTP("127.0.0.1", run.port, timeout=30) as client:
            for n in range(MESSAGES):
                rcpts = [f"h{i}@{PUBLIC}" for i in range(HOOKS)]
                mail = f"From: a@example.org\r\nSubject: m{n}\r\n\r\nbody\r\n"
                assert client.sendmail("a@example.org", rcpts, mail) == {}
        first = run.spawn("deliver")
        wait_for(lambda: len(target.received) >= 32, timeout=60, what="32 attempts in flight")
        time.sleep(0.5)  # let the worker claim again with its threads all busy
        asked = time.monotonic()
        first.send_signal(signal.SIGTERM)
        first.wait(timeout=TIMEOUT)  # well under one DELIVERY_TIMEOUT, never two
        stopped = time.monotonic() - asked
        in_flight = len(target.received)
        with run.container.engine().connect() as connection:
            delivered = connection.scalar(
                select(func.count()).select_from(JobRow).where(JobRow.status == "delivered")
            )
            logged = connection.scalar(select(func.count()).select_from(DeliveryLogRow))
            errors = list(connection.scalars(select(DeliveryLogRow.error)))
            claimed = connection.scalar(
                select(func.count())
                .select_from(JobRow)
                .where(JobRow.status == "pending", JobRow.claimed_until.is_not(None))
            )
        assert first.returncode == 0
        assert "delivery worker stopped" in run.output()
        # every attempt the target saw was in flight at SIGTERM: each was finished and recorded
        assert delivered == logged == in_flight, errors
        assert claimed == 0, "a job claimed and not started was left under its lease"
        assert in_flight < HOOKS * MESSAGES

        target.plan = []  # the target is quick now
        second = run.spawn("deliver")
        restarted = time.monotonic()
        # the lease is 2 x DELIVERY_TIMEOUT + 10 s = 30 s: the rest arrive well before that
        wait_for(
            lambda: len(target.received) >= HOOKS * MESSAGES,
            timeout=15,
            what="the rest delivered by the next worker",
        )
        rest = time.monotonic() - restarted
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=TIMEOUT)
        smtp.send_signal(signal.SIGTERM)
        smtp.wait(timeout=30)
    ids = [json.loads(r.body)["id"] for r in target.received]
    assert len(ids) == len(set(ids)) == HOOKS * MESSAGES  # each job once
    print(
        f"SIGTERM with {in_flight} attempts in flight to a {SLOW:g} s target "
        f"(DELIVERY_TIMEOUT={TIMEOUT}): stopped in {stopped:.2f} s; "
        f"the other {HOOKS * MESSAGES - in_flight} delivered by the next worker "
        f"{rest:.2f} s after it was started"
    )
