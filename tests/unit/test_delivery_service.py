"""The delivery use cases (claim, attempt, record, deliver_due) on the in-memory store, a
transport that records each POST and answers as planned, and a clock the test moves: rate
limits, 410, Retry-After, the retry schedule, custom headers, signatures during a secret
rotation, fair shares, paused webhooks and deliveries that can't be built (SPEC §5)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from attrs import evolve

from hookmail.adapters.memory import FixedClock, InMemoryUnitOfWork, RecordingTransport
from hookmail.core.deliveries import DeliveryJob, DeliveryLog, DeliveryStatus, JobStatus
from hookmail.core.mail import AuthResults, Envelope, InboundMessage
from hookmail.core.ports import HttpOutcome
from hookmail.core.services import delivery
from hookmail.core.services.delivery import DeliveryConfig
from hookmail.core.webhooks import Webhook, new_secret
from hookmail.webhooks import WebhookVerificationError, verify
from tests.builders import NOW, a_domain, a_webhook, an_account

SCHEDULE = (10, 60, 300)
CONFIG = DeliveryConfig(retry_schedule=SCHEDULE)
RAW = (
    b"From: Alice <alice@example.org>\r\n"
    b"To: inbox@example.com\r\n"
    b"Subject: Order 1234\r\n"
    b"Message-ID: <o1234@example.org>\r\n"
    b"\r\n"
    b"Two boxes, please.\r\n"
)


class Store:
    """One account and domain, webhooks on it, and mail queued for them."""

    def __init__(self) -> None:
        self.uow = InMemoryUnitOfWork()
        self.clock = FixedClock(NOW)
        self.transport = RecordingTransport()
        self.account = an_account()
        self.domain = a_domain(self.account.id, verified=True)
        with self.uow:
            self.uow.accounts.add(self.account)
            self.uow.domains.save(self.domain)
            self.uow.commit()

    def webhook(self, local: str = "inbox", **overrides: Any) -> Webhook:
        hook = a_webhook(self.domain, self.account.id, local, **overrides)
        self.save(hook)
        return hook

    def save(self, hook: Webhook) -> None:
        with self.uow:
            self.uow.webhooks.save(hook)
            self.uow.commit()

    def mail(self, hook: Webhook, count: int = 1) -> list[DeliveryJob]:
        """`count` messages for `hook`, received now, one job each."""
        jobs = []
        with self.uow:
            for _ in range(count):
                message = InboundMessage.receive(
                    raw=RAW,
                    envelope=Envelope(
                        mail_from="alice@example.org",
                        rcpt_to=(str(hook.address),),
                        remote_ip="203.0.113.5",
                        helo="mail.example.org",
                    ),
                    auth=AuthResults(),
                    now=self.clock.now(),
                    message_id="<o1234@example.org>",
                )
                job = DeliveryJob.new(
                    message_id=message.id,
                    webhook_id=hook.id,
                    account_id=hook.account_id,
                    recipients=(str(hook.address),),
                    now=self.clock.now(),
                )
                self.uow.messages.add(message)
                self.uow.jobs.add(job)
                jobs.append(job)
            self.uow.commit()
        return jobs

    def deliver(self, config: DeliveryConfig = CONFIG, limit: int = 100) -> list[delivery.Attempt]:
        return delivery.deliver_due(self.uow, self.clock, self.transport, config, limit=limit)

    def job(self, job: DeliveryJob) -> DeliveryJob:
        with self.uow.reading():
            found = self.uow.jobs.get(job.id)
        assert found is not None
        return found

    def logs(self, hook: Webhook) -> list[DeliveryLog]:
        """Oldest first."""
        with self.uow.reading():
            return self.uow.delivery_logs.of_webhook(hook.id, offset=0, limit=1000)[::-1]


def _within_jitter(due: datetime | None, after: datetime, seconds: int) -> bool:
    assert due is not None
    return timedelta(seconds=0.8 * seconds) <= due - after <= timedelta(seconds=1.2 * seconds)


def test_a_2xx_delivers_once_signed_with_the_payload_id_equal_to_the_webhook_id() -> None:
    store = Store()
    hook = store.webhook()
    (job,) = store.mail(hook)
    (done,) = store.deliver()
    (post,) = store.transport.posted
    assert post.url == hook.target_url
    assert post.headers["webhook-id"] == job.event_id
    assert post.headers["Content-Type"] == "application/json"
    assert post.headers["User-Agent"] == CONFIG.user_agent
    assert post.headers["webhook-timestamp"] == str(int(NOW.timestamp()))
    body = verify(hook.secret, post.headers, post.body, now=NOW)
    assert body["id"] == post.headers["webhook-id"]
    assert body["subject"] == "Order 1234"
    assert body["message_id"] == "<o1234@example.org>"
    assert store.job(job).status is JobStatus.DELIVERED
    assert store.job(job).attempts == 1
    (log,) = store.logs(hook)
    assert (log.status, log.http_status, log.attempt, log.error) == (
        DeliveryStatus.DELIVERED,
        200,
        1,
        None,
    )
    assert done.outcome == HttpOutcome(200)
    store.clock.advance(days=1)
    assert store.deliver() == []  # delivered is done: nothing is sent again


def test_the_webhook_id_is_stable_across_retries() -> None:
    store = Store()
    hook = store.webhook()
    (job,) = store.mail(hook)
    store.transport.plan = [HttpOutcome(500), HttpOutcome(0, "timed out")]
    for _ in range(3):
        store.deliver()
        store.clock.current = store.job(job).next_attempt_at
    ids = [p.headers["webhook-id"] for p in store.transport.posted]
    assert ids == [job.event_id] * 3
    assert [json.loads(p.body)["id"] for p in store.transport.posted] == ids
    assert store.job(job).status is JobStatus.DELIVERED


def test_mail_over_the_rate_limit_waits_its_turn_and_is_never_dropped() -> None:
    store = Store()
    hook = store.webhook(rate_limit=2)
    jobs = store.mail(hook, 5)
    assert len(store.deliver()) == 2
    waiting = [store.job(j) for j in jobs if store.job(j).status is JobStatus.PENDING]
    assert len(waiting) == 3
    for job in waiting:  # no attempt used
        assert (job.attempts, job.claimed_until) == (0, None)
    assert store.deliver() == []  # the window is full: they wait
    for _ in range(40):  # a pass every 5 s for 200 s
        store.clock.advance(seconds=5)
        store.deliver()
    assert all(store.job(j).status is JobStatus.DELIVERED for j in jobs)
    assert all(store.job(j).attempts == 1 for j in jobs)  # waiting cost no attempt
    times = [log.attempted_at - NOW for log in store.logs(hook)]
    # each slot as soon as the rolling window frees it: never more than 2 in any 60 s
    assert times == [timedelta(seconds=s) for s in (0, 0, 60, 60, 120)]


def test_the_rate_limit_counts_attempts_other_workers_hold_in_flight() -> None:
    store = Store()
    hook = store.webhook(rate_limit=3)
    store.mail(hook, 5)
    first = delivery.claim(store.uow, store.clock, CONFIG, limit=2)  # in flight, not recorded
    assert len(first) == 2
    second = delivery.claim(store.uow, store.clock, CONFIG, limit=10)
    assert len(second) == 1  # 3 - 2 in flight


def test_410_stops_retries() -> None:
    store = Store()
    hook = store.webhook()
    (job,) = store.mail(hook)
    store.transport.plan = [HttpOutcome(410)]
    store.deliver()
    found = store.job(job)
    assert (found.status, found.attempts) == (JobStatus.FAILED, 1)
    (log,) = store.logs(hook)
    assert (log.status, log.http_status, log.error, log.next_attempt_at) == (
        DeliveryStatus.FAILED,
        410,
        "HTTP 410",
        None,
    )
    store.clock.advance(days=30)
    assert store.deliver() == []
    assert len(store.transport.posted) == 1


@pytest.mark.parametrize(
    ("status", "retry_after", "delay"),
    [
        (429, 15, 15),  # honoured
        (503, 15, 15),
        (429, 0, 0),
        (429, 1000, 20),  # capped at twice the scheduled 10 s
        (503, 1000, 20),
    ],
)
def test_retry_after_on_429_and_503_is_honoured_within_twice_the_scheduled_delay(
    status: int, retry_after: int, delay: int
) -> None:
    store = Store()
    hook = store.webhook()
    (job,) = store.mail(hook)
    store.transport.plan = [HttpOutcome(status, retry_after=retry_after)]
    store.deliver()
    found = store.job(job)
    assert found.status is JobStatus.PENDING
    assert found.next_attempt_at == NOW + timedelta(seconds=delay)
    (log,) = store.logs(hook)
    assert log.status is DeliveryStatus.RETRYING
    assert log.next_attempt_at == found.next_attempt_at


@pytest.mark.parametrize("status", [500, 502, 404, 408])
def test_retry_after_on_other_statuses_is_ignored(status: int) -> None:
    store = Store()
    hook = store.webhook()
    (job,) = store.mail(hook)
    store.transport.plan = [HttpOutcome(status, retry_after=1)]
    store.deliver()
    assert _within_jitter(store.job(job).next_attempt_at, NOW, SCHEDULE[0])


def test_failed_attempts_follow_the_schedule_then_the_job_fails() -> None:
    store = Store()
    hook = store.webhook()
    (job,) = store.mail(hook)
    store.transport.default = HttpOutcome(500)
    for delay in SCHEDULE:
        assert len(store.deliver()) == 1
        found = store.job(job)
        assert found.status is JobStatus.PENDING
        assert _within_jitter(found.next_attempt_at, store.clock.now(), delay)
        store.clock.advance(seconds=0.79 * delay)
        assert store.deliver() == []  # not due before the jittered delay
        store.clock.current = found.next_attempt_at
    store.deliver()
    found = store.job(job)
    assert (found.status, found.attempts) == (JobStatus.FAILED, len(SCHEDULE) + 1)
    logs = store.logs(hook)
    assert [log.attempt for log in logs] == [1, 2, 3, 4]
    assert [log.status for log in logs] == [DeliveryStatus.RETRYING] * 3 + [DeliveryStatus.FAILED]
    assert {log.error for log in logs} == {"HTTP 500"}
    store.clock.advance(days=30)
    assert store.deliver() == []


def test_a_transport_that_raises_is_a_logged_failed_attempt() -> None:
    class Exploding(RecordingTransport):
        def post(
            self, url: str, *, headers: dict[str, str], body: bytes, timeout: float
        ) -> HttpOutcome:
            raise RuntimeError("boom")

    store = Store()
    store.transport = Exploding()
    hook = store.webhook()
    (job,) = store.mail(hook)
    store.deliver()
    (log,) = store.logs(hook)
    assert (log.status, log.http_status) == (DeliveryStatus.RETRYING, 0)
    assert log.error == "sending failed: RuntimeError: boom"
    assert _within_jitter(store.job(job).next_attempt_at, NOW, SCHEDULE[0])


def test_custom_headers_are_sent_and_may_override_the_content_type() -> None:
    store = Store()
    hook = store.webhook(custom_headers={"content-type": "text/plain", "X-Token": "abc 123"})
    store.mail(hook)
    store.deliver()
    (post,) = store.transport.posted
    assert post.headers["X-Token"] == "abc 123"
    content_types = {k: v for k, v in post.headers.items() if k.lower() == "content-type"}
    assert content_types == {"content-type": "text/plain"}  # replaced, not sent twice
    verify(hook.secret, post.headers, post.body, now=NOW)


def test_custom_headers_never_replace_the_signature_headers() -> None:
    """The API refuses webhook-* names (check_headers); a stored webhook that has them
    anyway (written by an older version, or straight into the store) still sends exactly one
    of each signature header, ours."""
    store = Store()
    forged = {"Webhook-Id": "msg_forged", "WEBHOOK-SIGNATURE": "v1,Zm9yZ2Vk", "X-Ok": "1"}
    hook = store.webhook(custom_headers=forged)
    (job,) = store.mail(hook)
    store.deliver()
    (post,) = store.transport.posted
    names = sorted(k.lower() for k in post.headers)
    for name in ("webhook-id", "webhook-signature", "webhook-timestamp"):
        assert names.count(name) == 1
    lowered = {k.lower(): v for k, v in post.headers.items()}
    assert lowered["webhook-id"] == job.event_id
    assert lowered["x-ok"] == "1"
    verify(hook.secret, post.headers, post.body, now=NOW)


def test_both_secrets_sign_for_24_hours_after_a_change_then_only_the_new_one() -> None:
    store = Store()
    old = store.webhook()
    new_secret_value = new_secret()
    hook = old.with_secret(new_secret_value, NOW)
    store.save(hook)
    store.mail(hook)
    store.clock.advance(hours=23, minutes=59)
    store.transport.default = HttpOutcome(500)
    store.deliver()
    during = store.transport.posted[-1]
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    at = store.clock.now()
    verify(old.secret, during.headers, during.body, now=at)
    verify(new_secret_value, during.headers, during.body, now=at)
    store.clock.current = NOW + timedelta(hours=24)
    store.mail(hook)
    store.deliver()  # the new mail and the first one's retry
    later = store.transport.posted[1:]
    assert len(later) == 2
    for after in later:
        assert len(after.headers["webhook-signature"].split(" ")) == 1
        verify(new_secret_value, after.headers, after.body, now=store.clock.now())
        with pytest.raises(WebhookVerificationError, match="no signature matches"):
            verify(old.secret, after.headers, after.body, now=store.clock.now())


def test_a_webhook_never_has_more_attempts_claimed_than_its_share() -> None:
    config = evolve(CONFIG, per_webhook=2)
    store = Store()
    slow = store.webhook("slow")
    slow_jobs = store.mail(slow, 5)  # older: due first
    store.clock.advance(seconds=1)
    other = store.webhook("other")
    other_jobs = store.mail(other, 2)
    first = delivery.claim(store.uow, store.clock, config, limit=3)
    assert [w.webhook.id for w in first] == [slow.id, slow.id, other.id]  # past slow's backlog
    second = delivery.claim(store.uow, store.clock, config, limit=10)
    assert [w.webhook.id for w in second] == [other.id]  # slow holds its 2 leases
    assert delivery.claim(store.uow, store.clock, config, limit=10) == []
    # one of slow's attempts finishes: exactly one more of its jobs may go
    done = delivery.attempt(store.clock, store.transport, config, work=first[0])
    third = delivery.claim(store.uow, store.clock, config, limit=10, finished=[done])
    assert [w.webhook.id for w in third] == [slow.id]
    assert {w.job.id for w in first + second + third} <= {j.id for j in slow_jobs + other_jobs}
    assert len({w.job.id for w in first + second + third}) == 5


def test_a_crashed_workers_lease_expires_and_another_worker_claims_the_job() -> None:
    store = Store()
    hook = store.webhook()
    (job,) = store.mail(hook)
    (lost,) = delivery.claim(store.uow, store.clock, CONFIG, limit=10)  # then the worker dies
    assert delivery.claim(store.uow, store.clock, CONFIG, limit=10) == []
    store.clock.advance(seconds=2 * CONFIG.timeout + 11)
    (again,) = delivery.claim(store.uow, store.clock, CONFIG, limit=10)
    assert again.job.id == lost.job.id == job.id
    assert again.job.attempts == 0


def test_a_paused_webhooks_jobs_wait_and_use_no_attempts() -> None:
    store = Store()
    hook = store.webhook(active=False)
    (job,) = store.mail(hook)
    store.clock.advance(days=3)
    assert store.deliver() == []
    assert store.transport.posted == []
    found = store.job(job)
    assert (found.status, found.attempts) == (JobStatus.PENDING, 0)
    assert store.logs(hook) == []
    store.save(evolve(hook, active=True))
    (done,) = store.deliver()
    assert done.log.attempt == 1
    assert store.job(job).status is JobStatus.DELIVERED


def test_a_template_that_fails_is_a_logged_failed_attempt_on_the_schedule() -> None:
    store = Store()
    # a partial: refused when saved through the API, and at render time
    hook = store.webhook(payload_template='{"s": "{{> other}}"}')
    (job,) = store.mail(hook)
    for _ in range(len(SCHEDULE) + 1):
        store.deliver()
        store.clock.current = store.job(job).next_attempt_at
    assert store.transport.posted == []  # nothing was sent
    logs = store.logs(hook)
    assert [log.status for log in logs] == [DeliveryStatus.RETRYING] * 3 + [DeliveryStatus.FAILED]
    for log in logs:
        assert log.http_status == 0
        assert log.error is not None
        assert log.error.startswith("could not build the delivery: TemplateRenderError: ")
        assert "partial" in log.error
    assert store.job(job).status is JobStatus.FAILED


def test_record_skips_a_job_deleted_meanwhile() -> None:
    store = Store()
    hook = store.webhook()
    store.mail(hook)
    (work,) = delivery.claim(store.uow, store.clock, CONFIG, limit=10)
    done = delivery.attempt(store.clock, store.transport, CONFIG, work=work)
    with store.uow:
        store.uow.webhooks.delete(hook.id)
        store.uow.commit()
    delivery.record(store.uow, [done])
    assert store.logs(hook) == []
    with store.uow.reading():
        assert store.uow.jobs.get(work.job.id) is None
