"""The outcome table of synchronous webhooks (SPEC §6.4), decided by sync_delivery.settle()
from the attempts made: what is stored and what DATA answers. No I/O."""

from __future__ import annotations

from attrs import evolve

from hookmail.core.deliveries import DeliveryJob, DeliveryLog, DeliveryStatus, JobStatus
from hookmail.core.mail import AuthResults, Envelope, InboundMessage
from hookmail.core.ports import HttpOutcome
from hookmail.core.services.delivery import Attempt
from hookmail.core.services.inbound import Prepared
from hookmail.core.services.sync_delivery import Verdict, settle
from tests.builders import NOW, a_domain, a_webhook, an_account

ACCOUNT = an_account()
DOMAIN = a_domain(ACCOUNT.id)
MESSAGE = InboundMessage.receive(
    raw=b"Subject: x\r\n\r\nhi\r\n",
    envelope=Envelope(mail_from="a@x.test", rcpt_to=("a", "b", "c"), remote_ip="", helo=""),
    auth=AuthResults(),
    now=NOW,
    message_id=None,
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


def _attempt(job: DeliveryJob, status: int, *, permanent: bool = False) -> Attempt:
    delivered = 200 <= status < 300
    log = DeliveryLog.record(
        webhook_id=job.webhook_id,
        attempted_at=NOW,
        duration_ms=1,
        http_status=status,
        error=None if delivered else f"HTTP {status}",
        sender="a@x.test",
        smtp_message_id="<m@x.test>",
        attempt=1,
        status=DeliveryStatus.DELIVERED if delivered else DeliveryStatus.RETRYING,
    )
    done = evolve(job, attempts=1, status=JobStatus.DELIVERED if delivered else JobStatus.PENDING)
    hook = a_webhook(DOMAIN, ACCOUNT.id)
    return Attempt(hook, MESSAGE.received_at, log, done, HttpOutcome(status, permanent=permanent))


SYNC_A, SYNC_B, QUEUED = _job("a"), _job("b"), _job("c")
PREPARED = Prepared(MESSAGE, (SYNC_A, SYNC_B, QUEUED), ())


def test_2xx_stores_the_delivered_job_and_the_queue_ones() -> None:
    settled = settle(PREPARED, [_attempt(SYNC_A, 200), _attempt(SYNC_B, 204)])
    assert settled.verdict is Verdict.ACCEPT
    assert settled.to_commit.message == MESSAGE
    statuses = {j.id: j.status for j in settled.to_commit.jobs}
    assert statuses == {
        SYNC_A.id: JobStatus.DELIVERED,
        SYNC_B.id: JobStatus.DELIVERED,
        QUEUED.id: JobStatus.PENDING,
    }
    assert len(settled.to_commit.refusals) == 2  # both attempts logged


def test_a_4xx_drops_that_recipient_and_keeps_the_others() -> None:
    settled = settle(PREPARED, [_attempt(SYNC_A, 200), _attempt(SYNC_B, 403)])
    assert settled.verdict is Verdict.ACCEPT
    assert {j.id for j in settled.to_commit.jobs} == {SYNC_A.id, QUEUED.id}


def test_every_recipient_refused_is_550_with_the_status_and_only_logs_are_stored() -> None:
    only_sync = Prepared(MESSAGE, (SYNC_A, SYNC_B), ())
    settled = settle(only_sync, [_attempt(SYNC_A, 404), _attempt(SYNC_B, 403)])
    assert settled.verdict is Verdict.REFUSE
    assert settled.refused_status == 403
    assert (settled.to_commit.message, settled.to_commit.jobs) == (None, ())
    assert len(settled.to_commit.refusals) == 2


def test_a_target_the_ssrf_guard_refuses_is_a_refusal_not_a_retry() -> None:
    settled = settle(Prepared(MESSAGE, (SYNC_A,), ()), [_attempt(SYNC_A, 0, permanent=True)])
    assert settled.verdict is Verdict.REFUSE


def test_408_429_5xx_and_no_answer_defer_the_whole_message() -> None:
    for status in (408, 429, 500, 503, 0):
        settled = settle(PREPARED, [_attempt(SYNC_A, 200), _attempt(SYNC_B, status)])
        assert settled.verdict is Verdict.TEMPORARY, status
        assert (settled.to_commit.message, settled.to_commit.jobs) == (None, ())
        assert len(settled.to_commit.refusals) == 2  # every attempt logged
