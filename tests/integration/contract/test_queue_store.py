"""The store contract for messages and the delivery queue, on the fake, SQLite and PG."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from attrs import evolve

from hookmail.core.accounts import Account
from hookmail.core.deliveries import DeliveryJob, DeliveryLog, DeliveryStatus, JobStatus
from hookmail.core.mail import AuthResults, DkimResult, Envelope, InboundMessage, SpfOutcome
from hookmail.core.ports import UnitOfWork
from hookmail.core.webhooks import Webhook
from tests.builders import NOW, a_domain, a_webhook, an_account


def _message(**overrides: Any) -> InboundMessage:
    message = InboundMessage.receive(
        raw=b"Subject: hi\r\n\r\n\x00\xffbinary-safe\r\n",
        envelope=Envelope(
            mail_from="a@example.org",
            rcpt_to=("in@example.com",),
            remote_ip="192.0.2.1",
            helo="mx.example.org",
            smtp_user="relay",
        ),
        auth=AuthResults(
            spf=SpfOutcome("pass", "example.org", "ok"), dkim=(DkimResult("example.org", "pass"),)
        ),
        now=NOW,
        message_id="<m@example.org>",
    )
    return evolve(message, **overrides)


def _setup(uow: UnitOfWork) -> tuple[Account, Webhook, Webhook]:
    account = an_account()
    domain = a_domain(account.id, verified=True)
    first, second = a_webhook(domain, account.id), a_webhook(domain, account.id, local="other")
    with uow:
        uow.accounts.add(account)
        uow.domains.save(domain)
        uow.webhooks.save(first)
        uow.webhooks.save(second)
        uow.commit()
    return account, first, second


def _enqueue(uow: UnitOfWork, webhook: Webhook, count: int, **job: Any) -> list[DeliveryJob]:
    jobs = []
    with uow:
        for n in range(count):
            message = _message()
            uow.messages.add(message)
            made = DeliveryJob.new(
                message_id=message.id,
                webhook_id=webhook.id,
                account_id=webhook.account_id,
                recipients=("in@example.com",),
                now=NOW + timedelta(seconds=n),
            )
            made = evolve(made, **job)
            uow.jobs.add(made)
            jobs.append(made)
        uow.commit()
    return jobs


def test_a_message_round_trips_byte_exact(uow: UnitOfWork) -> None:
    message = _message()
    with uow:
        uow.messages.add(message)
        uow.commit()
    with uow.reading():
        assert uow.messages.get(message.id) == message
        assert uow.messages.get_many({message.id, _message().id}) == {message.id: message}
        assert uow.messages.get_many(set()) == {}


def test_due_jobs_are_claimed_oldest_first_up_to_the_limit(uow: UnitOfWork) -> None:
    _, hook, _ = _setup(uow)
    jobs = _enqueue(uow, hook, 3)
    lease = NOW + timedelta(minutes=1)
    with uow:
        claimed = uow.jobs.claim_due(
            NOW + timedelta(seconds=10), limit=2, per_webhook=100, lease_until=lease
        )
        uow.commit()
    assert [j.id for j in claimed] == [jobs[0].id, jobs[1].id]
    assert all(j.claimed_until == lease for j in claimed)
    with uow:
        rest = uow.jobs.claim_due(
            NOW + timedelta(seconds=10), limit=10, per_webhook=100, lease_until=lease
        )
        uow.commit()
    assert [j.id for j in rest] == [jobs[2].id]  # the claimed ones are not claimed again


def test_jobs_not_yet_due_or_done_are_not_claimed(uow: UnitOfWork) -> None:
    _, hook, _ = _setup(uow)
    _enqueue(uow, hook, 1, next_attempt_at=NOW + timedelta(hours=1))
    _enqueue(uow, hook, 1, status=JobStatus.DELIVERED)
    _enqueue(uow, hook, 1, status=JobStatus.FAILED)
    with uow:
        assert (
            uow.jobs.claim_due(
                NOW + timedelta(minutes=1),
                limit=10,
                per_webhook=100,
                lease_until=NOW + timedelta(minutes=2),
            )
            == []
        )
        assert uow.jobs.pending() == 1


def test_an_expired_lease_frees_the_job_for_another_worker(uow: UnitOfWork) -> None:
    _, hook, _ = _setup(uow)
    (job,) = _enqueue(uow, hook, 1)
    with uow:
        uow.jobs.claim_due(NOW, limit=1, per_webhook=100, lease_until=NOW + timedelta(seconds=30))
        uow.commit()
    with uow:
        assert uow.jobs.in_flight(hook.id, NOW + timedelta(seconds=10)) == [job.id]
        assert (
            uow.jobs.claim_due(
                NOW + timedelta(seconds=10),
                limit=1,
                per_webhook=100,
                lease_until=NOW + timedelta(seconds=40),
            )
            == []
        )
    with uow:
        again = uow.jobs.claim_due(
            NOW + timedelta(seconds=31),
            limit=1,
            per_webhook=100,
            lease_until=NOW + timedelta(seconds=60),
        )
        uow.commit()
    assert [j.id for j in again] == [job.id]


def test_saving_a_job_records_its_next_state(uow: UnitOfWork) -> None:
    _, hook, other = _setup(uow)
    (job,) = _enqueue(uow, hook, 1)
    done = evolve(job, attempts=1, status=JobStatus.DELIVERED, claimed_until=None)
    with uow:
        uow.jobs.save(done)
        uow.commit()
    with uow.reading():
        assert uow.jobs.get(job.id) == done
        assert uow.jobs.pending() == 0
        assert uow.jobs.in_flight(other.id, NOW) == []


def _attempted(job: DeliveryJob, status: DeliveryStatus, *, error: str | None) -> DeliveryLog:
    return DeliveryLog.record(
        webhook_id=job.webhook_id,
        attempted_at=NOW + timedelta(seconds=5),
        duration_ms=12,
        http_status=200 if status is DeliveryStatus.DELIVERED else 500,
        error=error,
        sender="a@example.org",
        smtp_message_id="<m@example.org>",
        attempt=job.attempts + 1,
        status=status,
        next_attempt_at=None if status is DeliveryStatus.DELIVERED else NOW + timedelta(hours=1),
        job_id=job.id,
    )


def test_attempts_are_saved_with_their_logs_but_not_for_jobs_gone_meanwhile(
    uow: UnitOfWork,
) -> None:
    _, hook, other = _setup(uow)
    delivered, retrying = _enqueue(uow, hook, 2)
    (gone,) = _enqueue(uow, other, 1)
    with uow:
        uow.webhooks.delete(other.id)  # takes its job along, while its attempt is in flight
        uow.commit()
    later = NOW + timedelta(hours=1)
    jobs = [
        evolve(delivered, attempts=1, status=JobStatus.DELIVERED, claimed_until=None),
        evolve(retrying, attempts=1, next_attempt_at=later, claimed_until=None),
        evolve(gone, attempts=1, status=JobStatus.DELIVERED),
    ]
    logs = [
        _attempted(delivered, DeliveryStatus.DELIVERED, error=None),
        _attempted(retrying, DeliveryStatus.RETRYING, error="HTTP 500"),
        _attempted(gone, DeliveryStatus.DELIVERED, error=None),
    ]
    with uow:
        uow.jobs.save_attempts(jobs, logs)
        uow.jobs.save_attempts([], [])
        uow.commit()
    with uow.reading():
        assert [uow.jobs.get(job.id) for job in jobs] == [*jobs[:2], None]
        assert uow.jobs.pending() == 1
        assert uow.delivery_logs.of_webhook(hook.id, offset=0, limit=10) == sorted(
            logs[:2], key=lambda log: str(log.id), reverse=True
        )
        assert uow.delivery_logs.get(other.id, logs[2].id) is None


def test_attempts_without_any_error_or_retry_are_saved_too(uow: UnitOfWork) -> None:
    _, hook, _ = _setup(uow)
    jobs = _enqueue(uow, hook, 3)
    done = [evolve(job, attempts=1, status=JobStatus.DELIVERED) for job in jobs]
    logs = [_attempted(job, DeliveryStatus.DELIVERED, error=None) for job in jobs]
    with uow:
        uow.jobs.save_attempts(done, logs)  # every error and next attempt a NULL
        uow.commit()
    with uow.reading():
        assert uow.jobs.pending() == 0
        assert {log.id for log in uow.delivery_logs.of_webhook(hook.id, offset=0, limit=10)} == {
            log.id for log in logs
        }


def test_deleting_a_webhook_drops_its_queued_jobs(uow: UnitOfWork) -> None:
    _, hook, other = _setup(uow)
    (doomed,) = _enqueue(uow, hook, 1)
    (kept,) = _enqueue(uow, other, 1)
    with uow:
        uow.webhooks.delete(hook.id)
        uow.commit()
    with uow.reading():
        assert uow.jobs.get(doomed.id) is None
        assert uow.jobs.get(kept.id) == kept


def test_deleting_the_account_deletes_its_queued_mail(uow: UnitOfWork) -> None:
    account, hook, _ = _setup(uow)
    (job,) = _enqueue(uow, hook, 1)
    with uow:
        uow.accounts.delete(account.id)
        uow.commit()
    with uow.reading():
        assert uow.jobs.get(job.id) is None
        assert uow.messages.get(job.message_id) is None
