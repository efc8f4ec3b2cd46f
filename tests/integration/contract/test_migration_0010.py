"""Migration 0010 on SQLite and PostgreSQL: down to the revision before and up again keeps
every row (plain ADD COLUMN, no table copy whose drop would cascade), and rows written
before it name no job, so retention takes them by age."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime

import pytest

from hookmail.adapters.sql.engine import downgrade, make_sessions, migrate
from hookmail.adapters.sql.uow import SqlUnitOfWork
from hookmail.core.deliveries import DeliveryJob
from hookmail.core.mail import AuthResults, Envelope, InboundMessage
from tests.builders import a_domain, a_log, a_token, a_webhook, an_account
from tests.conftest import SQL_STORES, clean_engine, row_counts

pytestmark = pytest.mark.integration

NOW = datetime(2026, 4, 2, 12, 0, tzinfo=UTC)
BEFORE = importlib.import_module(
    "hookmail.adapters.sql.migrations.versions.0010_retention"
).down_revision
TABLES = ("messages", "delivery_jobs", "delivery_logs", "issued_tokens")


@pytest.mark.parametrize("store", SQL_STORES)
def test_down_to_the_revision_before_and_up_again_keeps_every_row(
    request: pytest.FixtureRequest, store: str
) -> None:
    engine = clean_engine(request, store)
    uow = SqlUnitOfWork(make_sessions(engine))
    account = an_account()
    domain = a_domain(account.id)
    webhook = a_webhook(domain, account.id)
    message = InboundMessage.receive(
        raw=b"Subject: x\r\n\r\nhi\r\n",
        envelope=Envelope(mail_from="a@x.test", rcpt_to=("in@example.com",), remote_ip="", helo=""),
        auth=AuthResults(),
        now=NOW,
        message_id=None,
    )
    job = DeliveryJob.new(
        message_id=message.id,
        webhook_id=webhook.id,
        account_id=account.id,
        recipients=("in@example.com",),
        now=NOW,
    )
    log = a_log(webhook.id, job_id=job.id)
    token, _ = a_token(account.id)
    with uow:
        uow.accounts.add(account)
        uow.domains.save(domain)
        uow.webhooks.save(webhook)
        uow.messages.add(message)
        uow.jobs.add(job)
        uow.delivery_logs.add(log)
        uow.tokens.add(token)
        uow.commit()
    before = row_counts(engine, TABLES)
    assert set(before.values()) == {1}
    with uow:
        assert uow.delivery_logs.get(webhook.id, log.id) == log
    try:
        downgrade(engine, str(BEFORE))
        assert row_counts(engine, TABLES) == before
    finally:
        migrate(engine)  # the session's engine is shared: leave it at head
    assert row_counts(engine, TABLES) == before
    with uow:
        back = uow.delivery_logs.get(webhook.id, log.id)
    assert back is not None
    assert back.job_id is None
