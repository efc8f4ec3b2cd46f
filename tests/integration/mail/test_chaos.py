"""Chaos: the SMTP and delivery workers are SIGKILLed over and over (at least 20 times each)
while a sender that retries on connection errors and 4xx sends several hundred messages.
Every message that got a 250 is delivered, and every repeat of a delivery carries the same
webhook-id (SQLite store, real processes, real sockets)."""

from __future__ import annotations

import contextlib
import json
import random
import signal
import smtplib
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from hookmail.core.services.webhooks import WebhookInput
from tests.conftest import PG_URL, wipe
from tests.integration.mail.processes import Workers, workers
from tests.receiver import receiver, wait_for
from tests.seed import PUBLIC, public_webhooks, wait_smtp

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

KILLS = 20  # of each worker, at least (SQLite; fewer on PostgreSQL)
MESSAGES = 300  # at least; the sender goes on while the killing does
MOST = 1500


class Sender:
    """Sends mail n to inbox+n until it gets a 250, through whatever the workers go through:
    a refused connection, a dropped one, a 4xx are tried again; a 5xx is a failure."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.accepted: dict[int, str] = {}  # n: the Message-ID of the try that got its 250
        self.tries = 0
        self.errors: list[str] = []
        self.client: smtplib.SMTP | None = None

    def _client(self) -> smtplib.SMTP:
        if self.client is None:
            client = smtplib.SMTP("127.0.0.1", self.port, timeout=10)
            client.ehlo("sender.example.org")
            self.client = client
        return self.client

    def _drop(self) -> None:
        if self.client is not None:
            with contextlib.suppress(OSError):
                self.client.close()
            self.client = None

    def send(self, n: int, deadline: float) -> None:
        while time.monotonic() < deadline:
            self.tries += 1
            message_id = f"<{n}.{self.tries}@chaos.test>"
            mail = (
                f"From: a@example.org\r\nMessage-ID: {message_id}\r\nSubject: chaos {n}\r\n"
                f"\r\nbody {n}\r\n"
            )
            try:
                refused = self._client().sendmail("a@example.org", [f"inbox+{n}@{PUBLIC}"], mail)
            except (smtplib.SMTPResponseException, smtplib.SMTPRecipientsRefused) as exc:
                code = getattr(exc, "smtp_code", 0) or min(
                    (c for c, _ in getattr(exc, "recipients", {}).values()), default=0
                )
                if code >= 500:
                    self.errors.append(f"mail {n}: {exc}")
                    return
                self._drop()
            except (OSError, smtplib.SMTPException):
                self._drop()
            else:
                if refused:
                    self.errors.append(f"mail {n}: refused {refused}")
                    return
                self.accepted[n] = message_id
                return
            time.sleep(0.1)
        self.errors.append(f"mail {n}: no 250 before the deadline")


def _killer(
    run: Workers, command: str, kills: list[int], stop: threading.Event, errors: list[str]
) -> None:
    """Start `command`, let it work a moment, SIGKILL it, start it again; until `stop`."""
    process = run.spawn(command)
    try:
        while not stop.is_set():
            if command == "smtp":
                try:
                    wait_smtp(run.port)
                except AssertionError as exc:
                    errors.append(str(exc))
                    return
                stop.wait(random.uniform(0.2, 1.0))
            else:
                stop.wait(random.uniform(0.8, 1.8))  # start-up, a claim, attempts under way
            if stop.is_set():
                break
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
            kills.append(1)
            process = run.spawn(command)
    except Exception as exc:  # reported by the test, not lost in a thread
        errors.append(f"{command} killer: {exc!r}")


def _chaos(tmp_path: Path, *, kills: int, messages: int, database: str | None = None) -> None:
    schedule = "0,1,1,1,1,1,1,1,1,1"
    with (
        receiver() as target,
        workers(tmp_path, database, delivery_timeout="2", retry_schedule=schedule) as run,
    ):
        public_webhooks(run.uow, WebhookInput(address=f"inbox@{PUBLIC}", target_url=target.url))
        target.plan = [(200, {}, 0.05)] * 100_000  # a little slow: attempts are in flight
        stop = threading.Event()
        errors: list[str] = []
        smtp_kills: list[int] = []
        deliver_kills: list[int] = []
        killers = [
            threading.Thread(target=_killer, args=(run, "smtp", smtp_kills, stop, errors)),
            threading.Thread(target=_killer, args=(run, "deliver", deliver_kills, stop, errors)),
        ]
        started = time.monotonic()
        for thread in killers:
            thread.start()
        sender = Sender(run.port)
        deadline = time.monotonic() + 240
        n = 0
        try:
            while n < MOST and (
                n < messages or len(smtp_kills) < kills or len(deliver_kills) < kills
            ):
                sender.send(n, deadline)
                n += 1
                if errors or sender.errors:
                    break
                time.sleep(0.02)
        finally:
            stop.set()
            for thread in killers:
                thread.join(timeout=30)
            sender._drop()
        killing = time.monotonic() - started
        assert not errors, errors
        assert not sender.errors, sender.errors
        assert len(smtp_kills) >= kills
        assert len(deliver_kills) >= kills
        # the last of each is running: the queue drains (killed workers' leases run out)
        wanted = set(sender.accepted.values())

        def delivered() -> set[str]:
            return {json.loads(body)["message_id"] for body in target.bodies()}

        wait_for(lambda: wanted <= delivered(), timeout=120, what="every 250'd message delivered")
        drained = time.monotonic() - started - killing
    ids: dict[str, set[str]] = {}
    for body in target.bodies():
        payload = json.loads(body)
        ids.setdefault(payload["message_id"], set()).add(payload["id"])
    assert all(len(one) == 1 for one in ids.values()), "a repeat changed its webhook-id"
    repeats = len(target.received) - len(ids)
    print(
        f"{run.database.partition(':')[0]}: {len(sender.accepted)} messages accepted in "
        f"{sender.tries} tries, "
        f"{len(smtp_kills)} SMTP and {len(deliver_kills)} delivery SIGKILLs in {killing:.1f} s; "
        f"all delivered {drained:.1f} s later; {len(target.received)} POSTs, "
        f"{repeats} of them repeats; stored messages delivered: {len(ids)}"
    )


@pytest.mark.timeout(360)
def test_twenty_sigkills_of_each_worker_lose_nothing(tmp_path: Path) -> None:
    _chaos(tmp_path, kills=KILLS, messages=MESSAGES)


@pytest.mark.postgres
@pytest.mark.timeout(240)
def test_sigkills_on_postgresql_lose_nothing(tmp_path: Path, postgres_engine: Engine) -> None:
    wipe(postgres_engine)
    with postgres_engine.connect() as connection:
        schema = connection.execute(text("SELECT current_schema()")).scalar_one()
    url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    _chaos(tmp_path, kills=8, messages=150, database=url)
