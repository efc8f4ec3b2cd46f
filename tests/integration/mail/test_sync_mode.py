"""Synchronous webhooks (SPEC §6.4) over real sockets: smtplib → SMTP worker → the target's
answer decides the reply to DATA; each outcome row, mixed transactions, a target that never
answers, the rate limit, and other sessions served meanwhile. SQLite and PostgreSQL."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import SQL_STORES, clean_engine
from tests.dns_server import DnsServer
from tests.integration.mail.conftest import Pipeline
from tests.mailstack import running_pipeline
from tests.receiver import Receiver, receiver, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

RAW = b"From: alice@example.org\r\nSubject: now or never\r\n\r\nhello\r\n"
SYNC_TIMEOUT = 2


@pytest.fixture(params=SQL_STORES)
def pipeline(request: pytest.FixtureRequest, mail_dns: DnsServer) -> Iterator[Pipeline]:
    with running_pipeline(
        clean_engine(request, request.param),
        mail_dns,
        sync_timeout=SYNC_TIMEOUT,
        delivery_timeout=10.0,  # the sync timeout is the smaller: it bounds a sync attempt
        retry_schedule=(3600,),
    ) as running:
        running.sign_up()
        running.domain("example.com")
        yield running


@contextmanager
def silent_target() -> Iterator[tuple[str, threading.Event]]:
    """A URL whose server takes connections and never answers, and an event set once a
    connection has come in."""
    connected = threading.Event()
    held: list[socket.socket] = []
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        server.settimeout(0.1)
        stop = threading.Event()

        def accept() -> None:
            while not stop.is_set():
                try:
                    held.append(server.accept()[0])  # kept open, never answered
                except TimeoutError:
                    continue
                connected.set()

        thread = threading.Thread(target=accept, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.getsockname()[1]}/hook", connected
        finally:
            stop.set()
            thread.join(timeout=5)
            for connection in held:
                connection.close()


def _sync(pipeline: Pipeline, local: str, url: str, **fields: Any) -> dict[str, Any]:
    body = {"address": f"{local}@example.com", "target_url": url, "delivery_mode": "sync"}
    return dict(pipeline.call("POST", "/api/v1/webhooks", {**body, **fields}))


def _queued(pipeline: Pipeline, local: str, url: str) -> dict[str, Any]:
    body = {"address": f"{local}@example.com", "target_url": url}
    return dict(pipeline.call("POST", "/api/v1/webhooks", body))


def _send(pipeline: Pipeline, *locals_: str) -> tuple[int, str]:
    """MAIL, RCPT each, DATA: DATA's reply."""
    with pipeline.smtp() as client:
        client.mail("alice@example.org")
        for local in locals_:
            code, reply = client.rcpt(f"{local}@example.com")
            assert code == 250, reply
        code, reply = client.data(RAW)
    return code, reply.decode()


def _messages(pipeline: Pipeline) -> list[dict[str, Any]]:
    return list(pipeline.call("GET", "/api/v1/messages?page_size=100"))


def _answering(target: Receiver, status: int) -> Receiver:
    target.default = status
    return target


def test_a_2xx_delivers_at_once_and_nothing_is_queued(pipeline: Pipeline) -> None:
    target = pipeline.target
    hook = _sync(pipeline, "now", target.url)
    assert hook["delivery_mode"] == "sync"
    with pipeline.smtp() as client:
        client.mail("alice@example.org")
        client.rcpt("now@example.com")
        started = time.monotonic()
        code, reply = client.data(RAW)
        latency = time.monotonic() - started  # DATA's end to 250: the POST made in between
    assert code == 250, reply
    assert len(target.received) == 1  # posted before the 250
    (message,) = _messages(pipeline)
    assert message["status"] == "delivered"
    (delivery,) = message["deliveries"]
    assert (delivery["status"], delivery["attempts"]) == ("delivered", 1)
    assert delivery["event_id"] == target.received[0].headers["webhook-id"]
    assert "webhook-signature" in target.received[0].headers
    (logged,) = pipeline.logs(hook["id"])
    assert (logged["attempt"], logged["http_status"], logged["status"]) == (1, 200, "delivered")
    print(f"\nsync 250 after DATA: {latency * 1000:.1f} ms")
    # the delivery worker has nothing to send again: a queued message goes out alone
    other = _queued(pipeline, "later", target.url)
    assert _send(pipeline, "later")[0] == 250
    wait_for(lambda: len(pipeline.logs(other["id"])) == 1, what="the queued delivery")
    assert len(target.received) == 2


def test_a_4xx_refuses_and_stores_only_the_log(pipeline: Pipeline) -> None:
    hook = _sync(pipeline, "no", _answering(pipeline.target, 403).url)
    code, reply = _send(pipeline, "no")
    assert (code, reply) == (550, "5.7.1 target refused the message (HTTP 403)")
    assert _messages(pipeline) == []
    (logged,) = pipeline.logs(hook["id"])
    assert (logged["attempt"], logged["http_status"]) == (1, 403)


@pytest.mark.parametrize("status", [408, 429, 500, 503])
def test_a_temporary_answer_defers_the_whole_message(pipeline: Pipeline, status: int) -> None:
    hook = _sync(pipeline, "later", _answering(pipeline.target, status).url)
    code, reply = _send(pipeline, "later")
    assert code == 451
    assert reply.startswith("4.3.0")
    assert _messages(pipeline) == []  # the sending server keeps it and retries
    (logged,) = pipeline.logs(hook["id"])
    assert logged["http_status"] == status


def test_mixed_transactions_store_queue_recipients_only_with_a_250(pipeline: Pipeline) -> None:
    with receiver() as ok, receiver() as no, receiver() as busy, receiver() as queue:
        no.default, busy.default = 403, 503
        _sync(pipeline, "ok", ok.url)
        no_hook = _sync(pipeline, "no", no.url)
        _sync(pipeline, "busy", busy.url)
        queued = _queued(pipeline, "queue", queue.url)

        # a refusal and a success: 250, the refused recipient dropped
        code, _ = _send(pipeline, "ok", "no", "queue")
        assert code == 250
        (message,) = _messages(pipeline)
        assert sorted(message["rcpt_to"]) == ["ok@example.com", "queue@example.com"]
        statuses = {d["webhook_id"]: d["status"] for d in message["deliveries"]}
        assert no_hook["id"] not in statuses
        wait_for(lambda: len(queue.received) == 1, what="the queued recipient delivered")
        assert len(pipeline.logs(no_hook["id"])) == 1

        # every sync recipient refuses, a queue one remains: 250 for it alone
        assert _send(pipeline, "no", "queue")[0] == 250
        wait_for(lambda: len(queue.received) == 2, what="the second queued delivery")

        # one temporary answer: 451 for all; the queue recipient gets nothing
        code, _ = _send(pipeline, "ok", "busy", "queue")
        assert code == 451
        assert len(_messages(pipeline)) == 2
        # the attempt's log row is recorded just after its POST arrives (attempts are
        # recorded together, within a few tens of milliseconds)
        wait_for(lambda: len(pipeline.logs(queued["id"])) == 2, what="two queued attempts logged")
        assert len(ok.received) == 2  # it did answer 2xx, and will see the retry again

        # every recipient a sync one that refuses: 550
        code, reply = _send(pipeline, "no")
        assert (code, reply) == (550, "5.7.1 target refused the message (HTTP 403)")


def test_a_target_that_never_answers_is_451_and_other_sessions_go_on(
    pipeline: Pipeline,
) -> None:
    with silent_target() as (url, connected):
        hook = _sync(pipeline, "void", url)
        _queued(pipeline, "fine", pipeline.target.url)
        outcome: dict[str, Any] = {}
        done = threading.Event()

        def stuck() -> None:
            started = time.monotonic()
            outcome["reply"] = _send(pipeline, "void")
            outcome["seconds"] = time.monotonic() - started
            done.set()

        sender = threading.Thread(target=stuck)
        sender.start()
        wait_for(connected.is_set, what="the sync attempt under way")
        served_meanwhile: list[tuple[int, bool]] = []
        while not done.is_set() and len(served_meanwhile) < 5:
            code, _ = _send(pipeline, "fine")
            served_meanwhile.append((code, done.is_set()))
        sender.join(timeout=SYNC_TIMEOUT + 30)
    assert outcome["reply"][0] == 451
    assert outcome["reply"][1].startswith("4.3.0")
    assert served_meanwhile[0] == (250, False)  # answered while the sync attempt waited
    (logged,) = pipeline.logs(hook["id"])
    assert logged["http_status"] == 0
    assert logged["error"]
    print(
        f"\nnever-answering sync target: 451 after {outcome['seconds']:.2f} s "
        f"(timeout {SYNC_TIMEOUT} s); {len(served_meanwhile)} other sessions served meanwhile"
    )


def test_a_sync_webhook_over_its_rate_limit_answers_451_4_7_0(pipeline: Pipeline) -> None:
    _sync(pipeline, "slow", pipeline.target.url, rate_limit=1)
    assert _send(pipeline, "slow")[0] == 250
    code, reply = _send(pipeline, "slow")
    assert code == 451
    assert reply.startswith("4.7.0")
    assert len(pipeline.target.received) == 1  # no attempt over the limit
    assert len(_messages(pipeline)) == 1


@pytest.mark.parametrize("store", SQL_STORES)
def test_a_sync_webhook_failing_too_long_is_disabled_too(
    request: pytest.FixtureRequest, mail_dns: DnsServer, store: str
) -> None:
    with running_pipeline(
        clean_engine(request, store), mail_dns, sync_timeout=SYNC_TIMEOUT, disable_after=1
    ) as pipeline:
        pipeline.sign_up()
        pipeline.domain("example.com")
        hook = _sync(pipeline, "down", _answering(pipeline.target, 500).url)
        assert _send(pipeline, "down")[0] == 451
        failing = pipeline.call("GET", f"/api/v1/webhooks/{hook['id']}")["failing_since"]
        assert failing is not None
        since = datetime.fromisoformat(failing.replace("Z", "+00:00"))
        wait_for(lambda: datetime.now(UTC) - since > timedelta(seconds=2), what="a while")
        assert _send(pipeline, "down")[0] == 451
        disabled = pipeline.call("GET", f"/api/v1/webhooks/{hook['id']}")
        assert (disabled["active"], disabled["disabled_reason"]) == (False, "failing")

        def refused() -> bool:  # at once on SQLite; after PostgreSQL's NOTIFY on PostgreSQL
            with pipeline.smtp() as client:
                client.mail("alice@example.org")
                return client.rcpt("down@example.com")[:2] == (550, b"5.2.1 mailbox disabled")

        wait_for(refused, what="RCPT refused with 550 5.2.1")
