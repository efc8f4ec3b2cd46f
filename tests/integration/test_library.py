"""hookmail.Hookmail, embedded: sign up, create a webhook, receive mail (one recipient
accepted, one refused and why), deliver, and the request verifies; in memory and on SQLite."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
from sqlalchemy import text

from hookmail import Hookmail, Receipt, verify
from hookmail.adapters.memory import FixedClock, RecordingTransport
from hookmail.adapters.sql.engine import make_engine
from hookmail.core.ports import HttpOutcome
from hookmail.core.services.inbound import RefusalReason
from tests.conftest import _PG_SKIP, PG_URL
from tests.receiver import receiver

DOMAIN = "inbound.example"
RAW = (
    b"From: Alice <alice@example.org>\r\n"
    b"To: orders@inbound.example, nobody@inbound.example\r\n"
    b"Subject: Order 1234\r\n"
    b"Message-ID: <o1234@example.org>\r\n"
    b"\r\n"
    b"Two boxes, please.\r\n"
)


@contextmanager
def _postgres_url() -> Iterator[str]:
    """The test database's URL, in a schema of its own (created, then dropped)."""
    if _PG_SKIP:
        pytest.skip(_PG_SKIP)
    schema = f"hookmail_library_{uuid.uuid4().hex[:12]}"
    admin = make_engine(PG_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(
    params=[
        "memory",
        pytest.param("sqlite", marks=pytest.mark.integration),
        pytest.param("postgres", marks=[pytest.mark.integration, pytest.mark.postgres]),
    ]
)
def hookmail(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Hookmail]:
    if request.param == "memory":
        yield Hookmail.in_memory(public_domains=(DOMAIN,))
        return
    with ExitStack() as stack:
        url = (
            stack.enter_context(_postgres_url())
            if request.param == "postgres"
            else f"sqlite:///{tmp_path / 'hookmail.db'}"
        )
        yield stack.enter_context(
            Hookmail.from_url(
                url, public_domains=(DOMAIN,), allow_private_targets=True, hostname="mx.test"
            )
        )


def _receive(hm: Hookmail) -> Receipt:
    return hm.receive(
        RAW,
        mail_from="alice@example.org",
        rcpt_to=["orders@inbound.example", "nobody@inbound.example"],
        remote_ip="198.51.100.7",
        helo="mail.example.org",
    )


def test_sign_up_webhook_receive_deliver_and_verify(hookmail: Hookmail) -> None:
    with receiver() as target:
        account = hookmail.sign_up("me@example.com", "correct horse battery")
        webhook = hookmail.create_webhook(
            account, address="orders@inbound.example", target_url=target.url
        )

        receipt = _receive(hookmail)

        assert [a.recipient for a in receipt.accepted] == ["orders@inbound.example"]
        assert receipt.accepted[0].webhook.id == webhook.id
        assert receipt.refused["nobody@inbound.example"].reason is RefusalReason.UNKNOWN
        assert receipt.message is not None
        assert receipt.message.raw.startswith(b"Received: from mail.example.org ([198.51.100.7])")
        assert receipt.message.message_id == "<o1234@example.org>"
        assert [job.webhook_id for job in receipt.jobs] == [webhook.id]

        sent = hookmail.deliver_due()

        assert [(s.url, s.http_status) for s in sent] == [(target.url, 200)]
        payload = verify(webhook.secret, sent[0].headers, sent[0].body)
        assert payload["id"] == sent[0].headers["webhook-id"]
        assert payload["webhook_id"] == str(webhook.id)
        assert payload["subject"] == "Order 1234"
        assert payload["envelope"]["rcpt_to"] == ["orders@inbound.example"]
        assert payload["envelope"]["remote_ip"] == "198.51.100.7"
        assert sent[0].log.status.value == "delivered"
        if isinstance(hookmail.transport, RecordingTransport):  # in memory: recorded
            assert [p.body for p in hookmail.transport.posted] == [sent[0].body]
        else:  # on SQLite: POSTed over HTTP to the receiver on 127.0.0.1
            assert [r.body for r in target.received] == [sent[0].body]
        assert hookmail.deliver_due() == []  # nothing is due any more


def test_the_in_memory_clock_is_real_time_so_signatures_are_fresh() -> None:
    hm = Hookmail.in_memory(public_domains=(DOMAIN,))
    account = hm.sign_up("me@example.com", "correct horse battery")
    webhook = hm.create_webhook(
        account, address="orders@inbound.example", target_url="https://t.example/"
    )
    _receive(hm)
    sent = hm.deliver_due()
    assert isinstance(hm.transport, RecordingTransport)
    assert [p.url for p in hm.transport.posted] == ["https://t.example/"]
    verify(webhook.secret, sent[0].headers, sent[0].body)  # default tolerance: 5 minutes


def test_a_policy_refusal_says_why_and_a_failed_attempt_is_retried_later() -> None:
    clock = FixedClock()
    hm = Hookmail.in_memory(public_domains=(DOMAIN,), clock=clock)
    account = hm.sign_up("me@example.com", "correct horse battery")
    strict = hm.create_policy(account, name="office only", allowed_source_ips="10.0.0.0/8")
    hm.create_webhook(
        account,
        address="nobody@inbound.example",
        target_url="https://t.example/",
        smtp_security_policy_id=strict.id,
    )
    hm.create_webhook(account, address="orders@inbound.example", target_url="https://t.example/")

    receipt = _receive(hm)

    refused = receipt.refused["nobody@inbound.example"]
    assert refused.reason is RefusalReason.POLICY
    assert "198.51.100.7" in refused.detail
    failing = RecordingTransport(default=HttpOutcome(503))
    first = hm.deliver_due(failing)
    assert [(s.http_status, s.log.status.value) for s in first] == [(503, "retrying")]
    assert hm.deliver_due(failing) == []  # not due yet
    clock.advance(seconds=10)
    again = hm.deliver_due()
    assert [s.http_status for s in again] == [200]
    assert again[0].headers["webhook-id"] == first[0].headers["webhook-id"]


def test_mail_for_no_webhook_at_all_is_refused_and_nothing_is_stored() -> None:
    hm = Hookmail.in_memory(public_domains=(DOMAIN,))
    receipt = _receive(hm)
    assert receipt.message is None
    assert receipt.jobs == ()
    assert set(receipt.refused) == {"orders@inbound.example", "nobody@inbound.example"}
    assert hm.deliver_due() == []


def test_one_recipient_may_be_given_as_a_string() -> None:
    hm = Hookmail.in_memory(public_domains=(DOMAIN,))
    account = hm.sign_up("me@example.com", "correct horse battery")
    hm.create_webhook(account, address="orders@inbound.example", target_url="https://t.example/")
    receipt = hm.receive(RAW, mail_from="alice@example.org", rcpt_to="orders@inbound.example")
    assert [a.recipient for a in receipt.accepted] == ["orders@inbound.example"]
    assert receipt.refused == {}


def test_a_dkim_policy_refuses_after_the_message_is_read() -> None:
    hm = Hookmail.in_memory(public_domains=(DOMAIN,))
    account = hm.sign_up("me@example.com", "correct horse battery")
    signed_only = hm.create_policy(account, name="signed", require_dkim=True)
    hm.create_webhook(
        account,
        address="orders@inbound.example",
        target_url="https://t.example/",
        smtp_security_policy_id=signed_only.id,
    )
    receipt = hm.receive(RAW, mail_from="alice@example.org", rcpt_to=["orders@inbound.example"])
    assert receipt.message is None
    refused = receipt.refused["orders@inbound.example"]
    assert refused.reason is RefusalReason.POLICY
    assert "DKIM" in refused.detail
