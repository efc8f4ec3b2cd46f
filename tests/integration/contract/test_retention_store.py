"""Retention (SPEC §6.7) on the fake, SQLite and PostgreSQL: a sweep deletes exactly the
expired messages (with their jobs and log rows), refusal and other unlinked log rows by age,
expired tokens and sessions and old counter events, and nothing pending."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest
from attrs import evolve

from hookmail.adapters.memory import FixedClock
from hookmail.adapters.sql.engine import make_sessions
from hookmail.adapters.sql.uow import SqlUnitOfWork
from hookmail.core.deliveries import DeliveryJob, DeliveryLog, DeliveryStatus, JobStatus
from hookmail.core.mail import AuthResults, Envelope, InboundMessage
from hookmail.core.ports import UnitOfWork
from hookmail.core.services import retention
from hookmail.core.services.retention import RetentionPolicy
from hookmail.core.tokens import TokenKind, digest
from hookmail.core.web_sessions import WebSession
from hookmail.core.webhooks import Webhook
from tests.builders import NOW, a_domain, a_log, a_token, a_webhook, an_account
from tests.conftest import SQL_STORES, clean_engine

KEEP = timedelta(days=30)
POLICY = RetentionPolicy(keep=KEEP, counters=timedelta(hours=1), batch=500)
SWEPT_AT = NOW + KEEP + timedelta(days=1)  # the sweep's now: NOW is past the retention
OLD = NOW  # received a day past the retention at SWEPT_AT
YOUNG = SWEPT_AT - timedelta(days=1)


def _setup(uow: UnitOfWork) -> tuple[UUID, Webhook, Webhook]:
    account = an_account()
    domain = a_domain(account.id, verified=True)
    first, second = a_webhook(domain, account.id), a_webhook(domain, account.id, local="other")
    with uow:
        uow.accounts.add(account)
        uow.domains.save(domain)
        uow.webhooks.save(first)
        uow.webhooks.save(second)
        uow.commit()
    return account.id, first, second


def _stored(
    uow: UnitOfWork, received: Any, *jobs: tuple[Webhook, JobStatus]
) -> tuple[InboundMessage, list[DeliveryJob], list[DeliveryLog]]:
    """A message received at `received` with one job per (webhook, status), each job with
    one attempt's log row that names it."""
    message = InboundMessage.receive(
        raw=b"Subject: hi\r\nMessage-ID: <m@example.org>\r\n\r\nbody\r\n",
        envelope=Envelope(
            mail_from="a@example.org",
            rcpt_to=("in@example.com",),
            remote_ip="192.0.2.1",
            helo="mx.example.org",
        ),
        auth=AuthResults(spf=None, dkim=()),
        now=received,
        message_id="<m@example.org>",
    )
    made, logs = [], []
    for webhook, status in jobs:
        job = DeliveryJob.new(
            message_id=message.id,
            webhook_id=webhook.id,
            account_id=webhook.account_id,
            recipients=(str(webhook.address),),
            now=received,
        )
        made.append(evolve(job, status=status, attempts=1))
        logs.append(a_log(webhook.id, attempted_at=received + timedelta(seconds=1), job_id=job.id))
    with uow:
        uow.messages.add(message)
        uow.jobs.add_many(made)
        uow.delivery_logs.add_many(logs)
        uow.commit()
    return message, made, logs


def _contents(uow: UnitOfWork, webhook_ids: list[UUID]) -> tuple[set[UUID], set[UUID]]:
    """(ids of the jobs, ids of the log rows) of those webhooks."""
    with uow:
        logs = {
            g.id for w in webhook_ids for g in uow.delivery_logs.of_webhook(w, offset=0, limit=1000)
        }
        jobs = {
            j.id
            for w in webhook_ids
            for j in uow.jobs.replayable(
                w,
                since=NOW - timedelta(days=400),
                until=SWEPT_AT + timedelta(days=1),
                statuses=frozenset(JobStatus),
                after=None,
                limit=1000,
            )
        }
    return jobs, logs


def _message_exists(uow: UnitOfWork, message_id: UUID) -> bool:
    with uow:
        return uow.messages.get(message_id) is not None


def test_a_sweep_deletes_exactly_what_has_expired_and_nothing_pending(uow: UnitOfWork) -> None:
    _, first, second = _setup(uow)
    hooks = [first.id, second.id]
    gone, gone_jobs, gone_logs = _stored(
        uow, OLD, (first, JobStatus.DELIVERED), (second, JobStatus.FAILED)
    )
    held, held_jobs, held_logs = _stored(
        uow, OLD, (first, JobStatus.DELIVERED), (second, JobStatus.PENDING)
    )
    young, young_jobs, young_logs = _stored(uow, YOUNG, (first, JobStatus.DELIVERED))
    old_refusal = a_log(first.id, attempted_at=OLD, status=DeliveryStatus.REFUSED, attempt=0)
    young_refusal = a_log(first.id, attempted_at=YOUNG, status=DeliveryStatus.REFUSED, attempt=0)
    # rows from before job_id: by age, unless a pending job of their webhook may be theirs
    legacy_free = a_log(first.id, attempted_at=OLD)  # first has no pending job
    legacy_held = a_log(second.id, attempted_at=OLD + timedelta(seconds=5))  # second has one
    with uow:
        uow.delivery_logs.add_many([old_refusal, young_refusal, legacy_free, legacy_held])
        uow.commit()

    report = retention.sweep(uow, FixedClock(SWEPT_AT), POLICY)

    assert (report.messages, report.logs, report.finished) == (1, 2, True)
    assert not _message_exists(uow, gone.id)
    assert _message_exists(uow, held.id)
    assert _message_exists(uow, young.id)
    jobs, logs = _contents(uow, hooks)
    assert jobs == {j.id for j in held_jobs + young_jobs}
    assert logs == {g.id for g in held_logs + young_logs} | {young_refusal.id, legacy_held.id}
    assert not {j.id for j in gone_jobs} & jobs
    assert not {g.id for g in gone_logs} & logs


def test_a_message_goes_once_its_pending_delivery_ends(uow: UnitOfWork) -> None:
    _, first, second = _setup(uow)
    held, jobs, _ = _stored(uow, OLD, (first, JobStatus.DELIVERED), (second, JobStatus.PENDING))
    clock = FixedClock(SWEPT_AT)
    assert retention.sweep(uow, clock, POLICY).messages == 0
    with uow:
        uow.jobs.save(evolve(jobs[1], status=JobStatus.FAILED))
        uow.commit()
    assert retention.sweep(uow, clock, POLICY).messages == 1
    assert not _message_exists(uow, held.id)
    assert _contents(uow, [first.id, second.id]) == (set(), set())


def test_a_message_is_kept_until_the_retention_has_passed(uow: UnitOfWork) -> None:
    _, first, _ = _setup(uow)
    message, _, _ = _stored(uow, OLD, (first, JobStatus.DELIVERED))
    assert retention.sweep(uow, FixedClock(OLD + KEEP - timedelta(seconds=1)), POLICY).messages == 0
    assert _message_exists(uow, message.id)
    assert retention.sweep(uow, FixedClock(OLD + KEEP + timedelta(seconds=1)), POLICY).messages == 1
    assert not _message_exists(uow, message.id)


def test_a_big_sweep_deletes_in_batches_and_a_second_finds_nothing(uow: UnitOfWork) -> None:
    _, first, _ = _setup(uow)
    for _n in range(7):
        _stored(uow, OLD, (first, JobStatus.DELIVERED))
    for _n in range(3):
        with uow:
            uow.delivery_logs.add(
                a_log(first.id, attempted_at=OLD, status=DeliveryStatus.REFUSED, attempt=0)
            )
            uow.commit()
    small = evolve(POLICY, batch=3)
    rests: list[int] = []

    def rest() -> bool:
        rests.append(1)
        return True

    report = retention.sweep(uow, FixedClock(SWEPT_AT), small, rest=rest)

    # messages: 3 + 3 + 1; refusals: 3 + 0 (a full batch asks for one more)
    assert (report.messages, report.logs, report.batches) == (7, 3, 5)
    assert len(rests) == 3
    assert _contents(uow, [first.id]) == (set(), set())
    again = retention.sweep(uow, FixedClock(SWEPT_AT), small)
    assert (again.messages, again.logs, again.batches) == (0, 0, 2)


def test_a_sweep_stops_between_batches_when_asked(uow: UnitOfWork) -> None:
    _, first, _ = _setup(uow)
    for _n in range(5):
        _stored(uow, OLD, (first, JobStatus.DELIVERED))
    report = retention.sweep(uow, FixedClock(SWEPT_AT), evolve(POLICY, batch=2), rest=lambda: False)
    assert (report.messages, report.batches, report.finished) == (2, 1, False)


def test_expired_tokens_sessions_and_old_counter_events_are_pruned(uow: UnitOfWork) -> None:
    account = an_account()
    expired, _ = a_token(account.id, now=NOW, ttl=timedelta(minutes=5))
    live, _ = a_token(account.id, now=NOW, ttl=timedelta(days=30))
    reset, _ = a_token(account.id, kind=TokenKind.PASSWORD_RESET, ttl=timedelta(minutes=60))
    old_session, old_plain = WebSession.open(account, NOW - timedelta(days=8))
    new_session, new_plain = WebSession.open(account, NOW)
    with uow:
        uow.accounts.add(account)
        for token in (expired, live, reset):
            uow.tokens.add(token)
        uow.web_sessions.add(old_session)
        uow.web_sessions.add(new_session)
        uow.attempts.record("login:a@example.com", NOW - timedelta(hours=2))
        uow.attempts.record("login:a@example.com", NOW - timedelta(minutes=10))
        uow.attempts.record("smtp-auth:192.0.2.1", NOW - timedelta(hours=3))
        uow.commit()

    retention.sweep(uow, FixedClock(NOW + timedelta(minutes=40)), POLICY)  # counters: 1 h

    with uow:
        assert uow.tokens.by_hash(TokenKind.REFRESH, expired.token_hash) is None
        assert uow.tokens.by_hash(TokenKind.PASSWORD_RESET, reset.token_hash) == reset
        assert uow.tokens.by_hash(TokenKind.REFRESH, live.token_hash) == live
        assert uow.web_sessions.by_hash(digest(old_plain)) is None
        assert uow.web_sessions.by_hash(digest(new_plain)) is not None
        assert uow.attempts.since("login:a@example.com", NOW - timedelta(days=1)) == [
            NOW - timedelta(minutes=10)
        ]
        assert uow.attempts.since("smtp-auth:192.0.2.1", NOW - timedelta(days=1)) == []


@pytest.mark.parametrize("store", SQL_STORES)
def test_sweepers_running_at_once_delete_each_message_once(
    request: pytest.FixtureRequest, store: str
) -> None:
    sessions = make_sessions(clean_engine(request, store))
    setup = SqlUnitOfWork(sessions)
    _, first, second = _setup(setup)
    count = 1200
    for start in range(0, count, 400):
        with setup:
            for n in range(start, start + 400):
                message, job, log = _parts(OLD + timedelta(milliseconds=n), first)
                setup.messages.add(message)
                setup.jobs.add(job)
                setup.delivery_logs.add(log)
            setup.commit()
    held, _, _ = _stored(setup, OLD, (second, JobStatus.PENDING))
    reports: list[retention.SweepReport] = []
    errors: list[BaseException] = []

    def sweep() -> None:
        try:
            reports.append(
                retention.sweep(
                    SqlUnitOfWork(sessions), FixedClock(SWEPT_AT), evolve(POLICY, batch=100)
                )
            )
        except BaseException as exc:  # the test reports it below
            errors.append(exc)

    sweepers = [threading.Thread(target=sweep) for _ in range(3)]
    for thread in sweepers:
        thread.start()
    for thread in sweepers:
        thread.join(timeout=120)
    assert errors == []
    assert sum(r.messages for r in reports) == count
    assert _contents(setup, [first.id]) == (set(), set())
    assert _message_exists(setup, held.id)


def _parts(received: Any, webhook: Webhook) -> tuple[InboundMessage, DeliveryJob, DeliveryLog]:
    message = InboundMessage.receive(
        raw=b"Subject: hi\r\n\r\nbody\r\n",
        envelope=Envelope(mail_from="a@example.org", rcpt_to=("x",), remote_ip="", helo=""),
        auth=AuthResults(),
        now=received,
        message_id=None,
    )
    job = DeliveryJob.new(
        message_id=message.id,
        webhook_id=webhook.id,
        account_id=webhook.account_id,
        recipients=("x",),
        now=received,
    )
    log = a_log(webhook.id, attempted_at=received, job_id=job.id)
    return message, evolve(job, status=JobStatus.DELIVERED, attempts=1), log
