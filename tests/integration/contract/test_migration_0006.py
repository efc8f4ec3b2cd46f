"""Migration 0006 on SQLite and PostgreSQL: down to the revision before and up again keeps
every row (no table copy whose drop would cascade to jobs, logs or credentials), and the new
columns come back with their defaults."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hookmail.adapters.sql.engine import downgrade, make_sessions, migrate
from hookmail.adapters.sql.uow import SqlUnitOfWork
from hookmail.core.deliveries import DeliveryJob, DeliveryLog, DeliveryStatus
from hookmail.core.mail import AuthResults, Envelope, InboundMessage
from hookmail.core.webhooks import PayloadFormat
from tests.builders import a_domain, a_policy, a_webhook, an_account
from tests.conftest import SQL_STORES, clean_engine, row_counts

pytestmark = pytest.mark.integration

NOW = datetime(2026, 4, 2, 12, 0, tzinfo=UTC)
BEFORE = "0007"  # the revision 0006 follows
TABLES = ("webhooks", "smtp_policies", "messages", "delivery_jobs", "delivery_logs")


@pytest.mark.parametrize("store", SQL_STORES)
def test_down_to_the_revision_before_and_up_again_keeps_every_row(
    request: pytest.FixtureRequest, store: str
) -> None:
    engine = clean_engine(request, store)
    uow = SqlUnitOfWork(make_sessions(engine))
    account = an_account()
    domain = a_domain(account.id)
    policy = a_policy(account.id, require_dmarc=True)
    webhook = a_webhook(
        domain,
        account.id,
        payload_format=PayloadFormat.RAW,
        attachment_url_threshold=1000,
        smtp_security_policy_id=policy.id,
    )
    message = InboundMessage.receive(
        raw=b"Subject: x\r\n\r\nhi\r\n",
        envelope=Envelope(mail_from="a@x.test", rcpt_to=("in@example.com",), remote_ip="", helo=""),
        auth=AuthResults(),
        now=NOW,
        message_id=None,
    )
    with uow:
        uow.accounts.add(account)
        uow.domains.save(domain)
        uow.policies.save(policy)
        uow.webhooks.save(webhook)
        uow.messages.add(message)
        uow.jobs.add(
            DeliveryJob.new(
                message_id=message.id,
                webhook_id=webhook.id,
                account_id=account.id,
                recipients=("in@example.com",),
                now=NOW,
            )
        )
        uow.delivery_logs.add(
            DeliveryLog.record(
                webhook_id=webhook.id,
                attempted_at=NOW,
                duration_ms=1,
                http_status=200,
                error=None,
                sender="a@x.test",
                smtp_message_id="<m@x.test>",
                attempt=1,
                status=DeliveryStatus.DELIVERED,
            )
        )
        uow.commit()
    before = row_counts(engine, TABLES)
    assert set(before.values()) == {1}
    try:
        downgrade(engine, BEFORE)
        assert row_counts(engine, TABLES) == before
    finally:
        migrate(engine)  # the session's engine is shared: leave it at head
    assert row_counts(engine, TABLES) == before
    with uow:
        back = uow.webhooks.get(webhook.id)
        again = uow.policies.get(policy.id)
    assert back is not None
    assert (back.payload_format, back.attachment_url_threshold) == (PayloadFormat.JSON, None)
    assert again is not None
    assert again.require_dmarc is False
