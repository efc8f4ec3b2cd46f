"""A log row names its delivery job when, and only when, that job is stored: the queue's
attempts and a stored sync delivery do; a sync attempt whose job is not stored (the
recipient refused, or the whole message answered 451) does not, so retention takes it by
age like a refusal (SPEC §6.7). No I/O."""

from __future__ import annotations

from attrs import evolve

from hookmail.adapters.memory import FixedClock, InMemoryUnitOfWork, RecordingTransport
from hookmail.core.deliveries import DeliveryJob, DeliveryLog, DeliveryStatus, JobStatus
from hookmail.core.mail import AuthResults, Envelope, InboundMessage
from hookmail.core.ports import HttpOutcome
from hookmail.core.services import delivery
from hookmail.core.services.delivery import Attempt, DeliveryConfig
from hookmail.core.services.inbound import Prepared
from hookmail.core.services.sync_delivery import Verdict, settle
from tests.builders import NOW, a_domain, a_webhook, an_account

ACCOUNT = an_account()
DOMAIN = a_domain(ACCOUNT.id, verified=True)
MESSAGE = InboundMessage.receive(
    raw=b"Subject: x\r\nMessage-ID: <m@x.test>\r\n\r\nhi\r\n",
    envelope=Envelope(mail_from="a@x.test", rcpt_to=("a", "b"), remote_ip="", helo=""),
    auth=AuthResults(),
    now=NOW,
    message_id="<m@x.test>",
)


def _job(local: str) -> DeliveryJob:
    hook = a_webhook(DOMAIN, ACCOUNT.id, local)
    return DeliveryJob.new(
        message_id=MESSAGE.id,
        webhook_id=hook.id,
        account_id=ACCOUNT.id,
        recipients=(f"{local}@example.com",),
        now=NOW,
    )


def _attempt(job: DeliveryJob, status: int) -> Attempt:
    delivered = 200 <= status < 300
    log = DeliveryLog.record(
        webhook_id=job.webhook_id,
        attempted_at=NOW,
        duration_ms=1,
        http_status=status,
        error=None,
        sender="a@x.test",
        smtp_message_id="<m@x.test>",
        attempt=1,
        status=DeliveryStatus.DELIVERED if delivered else DeliveryStatus.RETRYING,
        job_id=job.id,
    )
    done = evolve(job, attempts=1, status=JobStatus.DELIVERED if delivered else JobStatus.PENDING)
    return Attempt(a_webhook(DOMAIN, ACCOUNT.id), NOW, log, done, HttpOutcome(status))


def test_a_queued_attempt_logs_the_id_of_its_job() -> None:
    uow = InMemoryUnitOfWork()
    webhook = a_webhook(DOMAIN, ACCOUNT.id)
    job = DeliveryJob.new(
        message_id=MESSAGE.id,
        webhook_id=webhook.id,
        account_id=ACCOUNT.id,
        recipients=("inbox@example.com",),
        now=NOW,
    )
    with uow:
        uow.accounts.add(ACCOUNT)
        uow.domains.save(DOMAIN)
        uow.webhooks.save(webhook)
        uow.messages.add(MESSAGE)
        uow.jobs.add(job)
        uow.commit()
    done = delivery.deliver_due(uow, FixedClock(NOW), RecordingTransport(), DeliveryConfig())
    assert [d.log.job_id for d in done] == [job.id]
    with uow:
        assert uow.delivery_logs.get(webhook.id, done[0].log.id) == done[0].log


def test_a_stored_sync_delivery_names_its_job_and_a_refused_one_does_not() -> None:
    kept, refused = _job("a"), _job("b")
    settled = settle(
        Prepared(MESSAGE, (kept, refused), ()), [_attempt(kept, 200), _attempt(refused, 403)]
    )
    assert settled.verdict is Verdict.ACCEPT
    assert {g.webhook_id: g.job_id for g in settled.to_commit.refusals} == {
        kept.webhook_id: kept.id,
        refused.webhook_id: None,
    }


def test_a_451_stores_its_attempts_naming_no_job() -> None:
    first, second = _job("a"), _job("b")
    settled = settle(
        Prepared(MESSAGE, (first, second), ()), [_attempt(first, 200), _attempt(second, 503)]
    )
    assert settled.verdict is Verdict.TEMPORARY
    assert len(settled.to_commit.refusals) == 2
    assert all(g.job_id is None for g in settled.to_commit.refusals)
