"""A webhook failing longer than DISABLE_AFTER is disabled, its owner mailed (through an SMTP
relay on 127.0.0.1), new mail refused, its queue held without attempts, and resumed by
`PUT active: true` (SPEC §6.3). SQLite and PostgreSQL."""

from __future__ import annotations

import smtplib
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from email import message_from_bytes
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.conftest import SQL_STORES, clean_engine
from tests.dns_server import DnsServer
from tests.integration.mail.conftest import Pipeline, free_port
from tests.mailstack import running_pipeline
from tests.receiver import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

RAW = b"From: alice@example.org\r\nSubject: hello\r\n\r\nhi\r\n"


class Sink:
    """An SMTP server on 127.0.0.1 that keeps what it is sent: the relay under test."""

    def __init__(self) -> None:
        self.mail: list[tuple[list[str], Message]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        with self.lock:
            self.mail.append(
                (list(envelope.rcpt_tos), message_from_bytes(envelope.original_content or b""))
            )
        return "250 OK"


@pytest.fixture
def sink() -> Iterator[tuple[Sink, int]]:
    handler, port = Sink(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


@pytest.fixture(params=SQL_STORES)
def pipeline(
    request: pytest.FixtureRequest, mail_dns: DnsServer, sink: tuple[Sink, int]
) -> Iterator[Pipeline]:
    """The mail pipeline on each store, failing fast: DISABLE_AFTER 1 s, a retry every
    second, owner notices through the sink."""
    with running_pipeline(
        clean_engine(request, request.param),
        mail_dns,
        disable_after=1,
        retry_schedule=(1,) * 30,
        mail_relay=f"smtp://127.0.0.1:{sink[1]}",
    ) as running:
        yield running


def _hook(pipeline: Pipeline, webhook_id: str) -> dict[str, Any]:
    return dict(pipeline.call("GET", f"/api/v1/webhooks/{webhook_id}"))


def _held(pipeline: Pipeline, message_id: str) -> dict[str, Any]:
    (delivery,) = pipeline.call("GET", f"/api/v1/messages/{message_id}")["deliveries"]
    return dict(delivery)


def _message_ids(pipeline: Pipeline, webhook_id: str) -> list[str]:
    listed = pipeline.call("GET", f"/api/v1/messages?webhook_id={webhook_id}")
    return [m["id"] for m in listed]


def _rcpt(pipeline: Pipeline) -> tuple[int, bytes]:
    with pipeline.smtp() as client:
        client.mail("alice@example.org")
        code, reply = client.rcpt("in@example.com")
    return code, reply[:5]


def test_a_webhook_failing_too_long_is_disabled_held_and_resumed(
    pipeline: Pipeline, sink: tuple[Sink, int]
) -> None:
    relay, _ = sink
    target = pipeline.target
    target.default = 500
    pipeline.sign_up("owner@example.com")
    pipeline.domain("example.com")
    hook = pipeline.webhook("in@example.com")
    assert (hook["failing_since"], hook["disabled_reason"]) == (None, None)
    pipeline.send(RAW, to=["in@example.com"])
    wait_for(lambda: _hook(pipeline, hook["id"])["failing_since"] is not None, what="failing")
    wait_for(lambda: not _hook(pipeline, hook["id"])["active"], what="disabled", timeout=30)

    disabled = _hook(pipeline, hook["id"])
    assert disabled["disabled_reason"] == "failing"
    assert disabled["failing_since"] is not None
    wait_for(lambda: len(relay.mail) == 1, what="the notice to the owner")
    (to, notice) = relay.mail[0]
    assert to == ["owner@example.com"]
    text = notice.get_payload()
    assert isinstance(text, str)
    for needle in (hook["id"], "in@example.com", target.url, "HTTP 500"):
        assert needle in text.replace("=\n", ""), needle

    # new mail for it is refused (at once on SQLite; after the NOTIFY on PostgreSQL)
    wait_for(lambda: _rcpt(pipeline) == (550, b"5.2.1"), what="RCPT refused with 550 5.2.1")

    # its queued delivery is held: once due, the worker passes it by and serves others
    (held_id,) = _message_ids(pipeline, hook["id"])
    held = _held(pipeline, held_id)
    assert held["status"] == "pending"
    attempts = held["attempts"]
    logs = len(pipeline.logs(hook["id"]))
    assert logs == attempts
    due = datetime.fromisoformat(held["next_attempt_at"].replace("Z", "+00:00"))
    wait_for(lambda: datetime.now(UTC) > due, what="the held delivery due")
    other = pipeline.webhook("other@example.com")
    target.default = 200
    posts = len(target.received)
    pipeline.send(RAW, to=["other@example.com"])
    wait_for(lambda: len(pipeline.logs(other["id"])) == 1, what="another webhook served")
    assert len(target.received) == posts + 1  # only the other webhook's
    assert _held(pipeline, held_id)["attempts"] == attempts  # no attempt used up
    assert len(pipeline.logs(hook["id"])) == logs
    assert len(relay.mail) == 1  # told once

    resumed = pipeline.call("PUT", f"/api/v1/webhooks/{hook['id']}", {"active": True})
    assert resumed["active"] is True
    assert (resumed["failing_since"], resumed["disabled_reason"]) == (None, None)
    wait_for(lambda: _held(pipeline, held_id)["status"] == "delivered", what="resumed")
    assert _held(pipeline, held_id)["attempts"] == attempts + 1
    wait_for(lambda: _rcpt(pipeline)[0] == 250, what="RCPT accepted again")


def test_a_success_ends_the_failing_spell(pipeline: Pipeline) -> None:
    target = pipeline.target
    target.plan = [(500, {}, 0.0)]  # one failure, then 200
    pipeline.sign_up("owner@example.com")
    pipeline.domain("example.com")
    hook = pipeline.webhook("in@example.com")
    pipeline.send(RAW, to=["in@example.com"])
    wait_for(lambda: len(pipeline.logs(hook["id"])) == 2, what="a failure, then a success")
    healthy = _hook(pipeline, hook["id"])
    assert (healthy["active"], healthy["failing_since"], healthy["disabled_reason"]) == (
        True,
        None,
        None,
    )


def test_the_relay_speaks_smtp(sink: tuple[Sink, int]) -> None:
    """The sink itself works (so a missing notice above means hookmail sent none)."""
    relay, port = sink
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.sendmail("a@example.org", ["b@example.org"], b"Subject: x\r\n\r\ny\r\n")
    assert relay.mail[0][0] == ["b@example.org"]
