"""The store contract for dashboard sessions and the overview's counts, on the fake,
SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

from hookmail.core.deliveries import DeliveryJob, DeliveryStatus, JobStatus
from hookmail.core.ports import UnitOfWork
from hookmail.core.tokens import digest
from hookmail.core.web_sessions import WEB_SESSION_TTL, WebSession
from tests.builders import NOW, a_domain, a_log, a_webhook, an_account
from tests.integration.contract.test_queue_store import _message


def test_a_web_session_is_found_by_its_token_digest_and_ends(uow: UnitOfWork) -> None:
    account = an_account()
    session, plain = WebSession.open(account, NOW)
    with uow:
        uow.accounts.add(account)
        uow.web_sessions.add(session)
        uow.commit()
    with uow.reading():
        assert uow.web_sessions.by_hash(digest(plain)) == session
        assert uow.web_sessions.by_hash(digest("another token")) is None
    with uow:
        uow.web_sessions.delete(session.id)
        uow.commit()
    with uow.reading():
        assert uow.web_sessions.by_hash(digest(plain)) is None


def test_pruning_forgets_expired_sessions_only(uow: UnitOfWork) -> None:
    account = an_account()
    old, old_plain = WebSession.open(account, NOW - WEB_SESSION_TTL - timedelta(seconds=1))
    live, live_plain = WebSession.open(account, NOW)
    with uow:
        uow.accounts.add(account)
        uow.web_sessions.add(old)
        uow.web_sessions.add(live)
        uow.commit()
    with uow:
        uow.web_sessions.prune(NOW)
        uow.commit()
    with uow.reading():
        assert uow.web_sessions.by_hash(digest(old_plain)) is None
        assert uow.web_sessions.by_hash(digest(live_plain)) == live


def test_deleting_the_account_ends_its_sessions(uow: UnitOfWork) -> None:
    account = an_account()
    session, plain = WebSession.open(account, NOW)
    with uow:
        uow.accounts.add(account)
        uow.web_sessions.add(session)
        uow.commit()
    with uow:
        uow.accounts.delete(account.id)
        uow.commit()
    with uow.reading():
        assert uow.web_sessions.by_hash(digest(plain)) is None


def test_activity_counts_the_accounts_attempts_by_hour_and_its_deliveries(
    uow: UnitOfWork,
) -> None:
    account, other = an_account(), an_account()
    domain = a_domain(account.id, verified=True)
    other_domain = a_domain(other.id, "other.example", verified=True)
    mine = a_webhook(domain, account.id)
    theirs = a_webhook(other_domain, other.id)
    since = NOW - timedelta(hours=3)
    message, older = _message(), _message()
    with uow:
        for who in (account, other):
            uow.accounts.add(who)
        uow.domains.save(domain)
        uow.domains.save(other_domain)
        uow.webhooks.save(mine)
        uow.webhooks.save(theirs)
        for minutes, status in ((0, "delivered"), (30, "retrying"), (150, "delivered")):
            at = since + timedelta(minutes=minutes)
            uow.delivery_logs.add(a_log(mine.id, attempted_at=at, status=DeliveryStatus(status)))
        uow.delivery_logs.add(a_log(mine.id, attempted_at=since - timedelta(seconds=1)))
        uow.delivery_logs.add(a_log(theirs.id, attempted_at=NOW))
        uow.messages.add(message)
        uow.messages.add(older)
        for hook, made in ((mine, NOW), (theirs, NOW)):
            job = DeliveryJob.new(
                message_id=message.id,
                webhook_id=hook.id,
                account_id=hook.account_id,
                recipients=("a@b.c",),
                now=made,
            )
            uow.jobs.add(job)
        uow.jobs.add(
            DeliveryJob.new(
                message_id=older.id,
                webhook_id=mine.id,
                account_id=account.id,
                recipients=("a@b.c",),
                now=since - timedelta(hours=1),
            )
        )
        uow.commit()
    with uow.reading():
        counts = uow.activity.attempts_by_hour(account.id, since, 3)
        statuses = uow.activity.job_statuses(account.id, since)
    assert counts == {
        (0, DeliveryStatus.DELIVERED): 1,
        (0, DeliveryStatus.RETRYING): 1,
        (2, DeliveryStatus.DELIVERED): 1,
    }
    assert statuses == [(message.id, JobStatus.PENDING)]


def test_the_attempts_of_a_delivery_are_the_rows_that_name_its_job(uow: UnitOfWork) -> None:
    account = an_account()
    domain = a_domain(account.id, verified=True)
    hook = a_webhook(domain, account.id)
    message_id = uuid4()
    job, other = (
        DeliveryJob.new(
            message_id=message_id,
            webhook_id=hook.id,
            account_id=account.id,
            recipients=("a@b.c",),
            now=NOW,
        )
        for _ in range(2)
    )
    first = a_log(hook.id, smtp_message_id="<m@x>", attempted_at=NOW, job_id=job.id)
    second = a_log(
        hook.id,
        smtp_message_id="<m@x>",
        attempt=2,
        status=DeliveryStatus.FAILED,
        attempted_at=NOW + timedelta(minutes=1),
        job_id=job.id,
    )
    with uow:
        uow.accounts.add(account)
        uow.domains.save(domain)
        uow.webhooks.save(hook)
        for log in (
            second,
            first,
            a_log(hook.id, smtp_message_id="<m@x>", job_id=other.id),  # the same mail again
            a_log(hook.id, smtp_message_id="<m@x>", status=DeliveryStatus.REFUSED, attempt=0),
        ):
            uow.delivery_logs.add(log)
        uow.commit()
    with uow.reading():
        assert uow.activity.attempts_of(job, "<m@x>") == [first, second]


def test_rows_from_before_they_named_their_job_are_matched_by_webhook_and_message_id(
    uow: UnitOfWork,
) -> None:
    account = an_account()
    domain = a_domain(account.id, verified=True)
    hook, other = a_webhook(domain, account.id), a_webhook(domain, account.id, local="other")
    job = DeliveryJob.new(
        message_id=uuid4(),
        webhook_id=hook.id,
        account_id=account.id,
        recipients=("a@b.c",),
        now=NOW,
    )
    first = a_log(hook.id, smtp_message_id="<m@x>", attempt=1, attempted_at=NOW)
    second = a_log(
        hook.id,
        smtp_message_id="<m@x>",
        attempt=2,
        status=DeliveryStatus.FAILED,
        attempted_at=NOW + timedelta(minutes=1),
    )
    with uow:
        uow.accounts.add(account)
        uow.domains.save(domain)
        uow.webhooks.save(hook)
        uow.webhooks.save(other)
        for log in (
            second,
            first,
            a_log(hook.id, smtp_message_id="<another@x>"),
            a_log(other.id, smtp_message_id="<m@x>"),
            a_log(hook.id, smtp_message_id="<m@x>", attempted_at=NOW - timedelta(days=1)),
        ):
            uow.delivery_logs.add(log)
        uow.commit()
    with uow.reading():
        assert uow.activity.attempts_of(job, "<m@x>") == [first, second]
