"""Two delivery worker processes on one PostgreSQL: the queue is shared with SKIP LOCKED,
rate limits hold across both, and no job is delivered twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text

from hookmail.adapters.clock import SystemClock
from hookmail.adapters.sql.engine import make_sessions
from hookmail.adapters.sql.rows import JobRow
from hookmail.adapters.sql.uow import SqlUnitOfWork
from hookmail.core.mail import AuthResults, Envelope
from hookmail.core.services import inbound
from hookmail.core.services.inbound import Accepted
from hookmail.core.services.webhooks import WebhookInput
from tests.conftest import PG_URL, wipe
from tests.receiver import receiver, wait_for
from tests.seed import PUBLIC, public_webhooks

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.postgres]


def test_two_workers_share_the_queue_and_hold_the_rate_limit(
    postgres_engine: Engine, tmp_path: Path
) -> None:
    wipe(postgres_engine)
    with postgres_engine.connect() as connection:
        schema = connection.execute(text("SELECT current_schema()")).scalar_one()
    url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    sessions = make_sessions(postgres_engine)

    def uow() -> SqlUnitOfWork:
        return SqlUnitOfWork(sessions)

    with receiver() as target:
        free, limited = public_webhooks(
            uow,
            WebhookInput(address=f"free@{PUBLIC}", target_url=target.url),
            WebhookInput(address=f"limited@{PUBLIC}", target_url=target.url, rate_limit=5),
        )
        clock = SystemClock()
        batch = []
        for n, hook in [(n, free) for n in range(60)] + [(n, limited) for n in range(12)]:
            raw = f"From: a@example.org\r\nSubject: {hook.address} {n}\r\n\r\nx\r\n".encode()
            envelope = Envelope(
                mail_from="a@example.org",
                rcpt_to=(str(hook.address),),
                remote_ip="127.0.0.1",
                helo="h",
            )
            batch.append(
                inbound.prepare_message(
                    clock,
                    raw=raw,
                    envelope=envelope,
                    auth=AuthResults(),
                    accepted=[Accepted(str(hook.address), hook, None)],
                    hostname="mx.hookmail.test",
                )
            )
        inbound.commit_prepared(uow(), batch)
        env = {**os.environ, "HOOKMAIL_DATABASE_URL": url, "HOOKMAIL_ALLOW_PRIVATE_TARGETS": "true"}
        log = (tmp_path / "workers.log").open("ab")
        workers = [
            subprocess.Popen(
                [sys.executable, "-m", "hookmail.entrypoints.cli", "deliver"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            for _ in range(2)
        ]
        try:

            def delivered() -> Counter[str]:
                return Counter(json.loads(b)["subject"].split(" ")[0] for b in target.bodies())

            wait_for(
                lambda: (
                    delivered()[f"free@{PUBLIC}"] == 60 and delivered()[f"limited@{PUBLIC}"] == 5
                ),
                timeout=60,
                what="the first wave",
            )

            def waiting() -> list[datetime]:
                with postgres_engine.connect() as connection:
                    return [
                        at
                        for (at,) in connection.execute(
                            select(JobRow.next_attempt_at).where(
                                JobRow.webhook_id == limited.id, JobRow.status == "pending"
                            )
                        )
                    ]

            # the other seven wait for the minute to pass, whichever worker looked at them
            wait_for(
                lambda: (
                    len(waiting()) == 7
                    and all(at - datetime.now(UTC) > timedelta(seconds=40) for at in waiting())
                ),
                timeout=30,
                what="seven held back past the window",
            )
            assert delivered()[f"limited@{PUBLIC}"] == 5
        finally:
            for worker in workers:
                worker.send_signal(signal.SIGTERM)
                worker.wait(timeout=30)
    ids = Counter(json.loads(b)["id"] for b in target.bodies())
    assert len(ids) == 65
    assert max(ids.values()) == 1, "no job was delivered twice"
