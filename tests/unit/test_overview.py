"""The overview's counts over the fakes: the last 24 whole hours, the account's own traffic."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from attrs import evolve

from hookmail.adapters.memory import FixedClock, InMemoryUnitOfWork
from hookmail.core.deliveries import DeliveryJob, DeliveryStatus, JobStatus
from hookmail.core.messages import MessageStatus
from hookmail.core.services.overview import HOURS, overview
from hookmail.entrypoints.web.chart import chart
from tests.builders import NOW, a_domain, a_log, a_webhook, an_account
from tests.integration.contract.test_queue_store import _message


def test_counts_messages_deliveries_refusals_and_attempts_per_hour() -> None:
    uow, clock = InMemoryUnitOfWork(), FixedClock(NOW + timedelta(minutes=30))
    account, other = an_account(), an_account()
    domain = a_domain(account.id, verified=True)
    hook, second = a_webhook(domain, account.id), a_webhook(domain, account.id, local="b")
    theirs = a_webhook(a_domain(other.id, "o.example", verified=True), other.id)
    delivered, pending, old = _message(), _message(), _message()
    with uow:
        for who in (account, other):
            uow.accounts.add(who)
        for hook_ in (hook, second, theirs):
            uow.webhooks.save(hook_)
        for message in (delivered, pending, old):
            uow.messages.add(message)

        def job(message_id: UUID, webhook_id: UUID, status: JobStatus, at: datetime) -> None:
            made = DeliveryJob.new(
                message_id=message_id,
                webhook_id=webhook_id,
                account_id=account.id,
                recipients=("a@b.c",),
                now=at,
            )
            uow.jobs.add(evolve(made, status=status))

        job(delivered.id, hook.id, JobStatus.DELIVERED, NOW)
        job(pending.id, hook.id, JobStatus.FAILED, NOW)
        job(pending.id, second.id, JobStatus.PENDING, NOW)
        job(old.id, hook.id, JobStatus.FAILED, NOW - timedelta(days=2))
        uow.delivery_logs.add(a_log(hook.id, attempted_at=NOW))
        uow.delivery_logs.add(a_log(hook.id, attempted_at=NOW, status=DeliveryStatus.RETRYING))
        uow.delivery_logs.add(
            a_log(hook.id, attempted_at=NOW - timedelta(hours=5), status=DeliveryStatus.FAILED)
        )
        uow.delivery_logs.add(a_log(hook.id, attempted_at=NOW, status=DeliveryStatus.REFUSED))
        uow.delivery_logs.add(a_log(theirs.id, attempted_at=NOW))
        uow.delivery_logs.add(a_log(hook.id, attempted_at=NOW - timedelta(days=2)))
        uow.commit()

    report = overview(uow, clock, account_id=account.id)

    assert report.since == NOW - timedelta(hours=HOURS - 1)  # whole hours, this one last
    assert report.messages == {
        MessageStatus.PENDING: 1,
        MessageStatus.FAILED: 0,
        MessageStatus.DELIVERED: 1,
    }
    assert report.deliveries == {JobStatus.PENDING: 1, JobStatus.DELIVERED: 1, JobStatus.FAILED: 1}
    assert report.refused == 1
    assert len(report.hours) == HOURS
    assert (report.hours[-1].delivered, report.hours[-1].failed) == (1, 1)
    assert (report.hours[-6].delivered, report.hours[-6].failed) == (0, 1)
    assert sum(h.delivered + h.failed for h in report.hours) == 3

    bars = chart(report.hours, "UTC").bars
    assert bars[-1].delivered_height > 0
    assert bars[-1].failed_height == bars[-1].delivered_height  # one each, one scale
    assert bars[0].delivered_height == bars[0].failed_height == 0
