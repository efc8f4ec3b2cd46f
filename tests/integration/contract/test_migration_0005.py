"""Migration 0005 on SQLite and PostgreSQL: down to 0003 and up again keeps every row (no
table copy whose drop would cascade), fills each job's account from its webhook, and brings
the new webhook fields back with their defaults."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from attrs import evolve
from sqlalchemy import text

from hookmail.adapters.sql.engine import downgrade, make_sessions, migrate
from hookmail.adapters.sql.uow import SqlUnitOfWork
from hookmail.core.deliveries import DeliveryJob, DeliveryLog, DeliveryStatus, JobStatus
from hookmail.core.mail import AuthResults, Envelope, InboundMessage
from hookmail.core.messages import MessageStatus
from hookmail.core.webhooks import DeliveryMode
from tests.builders import a_domain, a_webhook, an_account
from tests.conftest import SQL_STORES, clean_engine, row_counts

pytestmark = pytest.mark.integration

NOW = datetime(2026, 4, 2, 12, 0, tzinfo=UTC)
BEFORE = "0003"  # the revision 0005 follows
TABLES = ("webhooks", "messages", "delivery_jobs", "delivery_logs")


@pytest.mark.parametrize("store", SQL_STORES)
def test_down_to_0003_and_up_again_keeps_every_row_and_fills_the_account(
    request: pytest.FixtureRequest, store: str
) -> None:
    engine = clean_engine(request, store)
    uow = SqlUnitOfWork(make_sessions(engine))
    account = an_account()
    domain = a_domain(account.id)
    webhook = evolve(
        a_webhook(domain, account.id),
        delivery_mode=DeliveryMode.SYNC,
        failing_since=NOW,
        disabled_reason="failing",
        active=False,
    )
    message = InboundMessage.receive(
        raw=b"Subject: kept\r\n\r\nhi\r\n",
        envelope=Envelope(mail_from="a@x.test", rcpt_to=("in@example.com",), remote_ip="", helo=""),
        auth=AuthResults(),
        now=NOW,
        message_id=None,
    )
    job = DeliveryJob.new(
        message_id=message.id,
        webhook_id=webhook.id,
        account_id=account.id,
        recipients=("inbox@example.com",),
        now=NOW,
    )
    with uow:
        uow.accounts.add(account)
        uow.domains.save(domain)
        uow.webhooks.save(webhook)
        uow.messages.add(message)
        uow.jobs.add(evolve(job, status=JobStatus.FAILED, attempts=3, schedule_start=2))
        uow.delivery_logs.add(
            DeliveryLog.record(
                webhook_id=webhook.id,
                attempted_at=NOW,
                duration_ms=1,
                http_status=500,
                error="HTTP 500",
                sender="a@x.test",
                smtp_message_id="<m@x.test>",
                attempt=3,
                status=DeliveryStatus.FAILED,
            )
        )
        uow.commit()
    before = row_counts(engine, TABLES)
    assert set(before.values()) == {1}
    try:
        downgrade(engine, BEFORE)
        assert row_counts(engine, TABLES) == before
        with engine.connect() as connection:
            columns = connection.execute(text("SELECT * FROM delivery_jobs")).keys()
        assert "account_id" not in columns
    finally:
        migrate(engine)  # the session's engine is shared: leave it at head
    assert row_counts(engine, TABLES) == before
    with uow.reading():
        back = uow.webhooks.get(webhook.id)
        (listed,) = uow.messages.page_of_account(
            account.id, webhook_id=None, status=MessageStatus.FAILED, offset=0, limit=10
        )
        (again,) = uow.jobs.of_messages(account.id, {message.id})
    assert back is not None
    assert (back.delivery_mode, back.failing_since, back.disabled_reason) == (
        DeliveryMode.QUEUE,
        None,
        None,
    )
    assert back.active is False  # untouched by the migration
    assert listed == message.id  # the job's account was filled from its webhook
    assert (again.account_id, again.attempts, again.schedule_start) == (account.id, 3, 0)
