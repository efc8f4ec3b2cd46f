"""The store pass's statements in plain SQL (adapters/sql/raw.py) store and read what the
SQLAlchemy column types do: UUIDs, aware UTC datetimes (given in any zone, to the
microsecond), NULLs, bools; and a driver error is SQLAlchemy's error, as before."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import pytest
from attrs import evolve
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError

from hookmail.adapters.sql import raw
from hookmail.adapters.sql.engine import make_engine, make_sessions
from hookmail.adapters.sql.mail import _auth_json
from hookmail.adapters.sql.rows import MessageRow
from hookmail.adapters.sql.uow import SqlUnitOfWork
from hookmail.core.deliveries import DeliveryJob, DeliveryLog, DeliveryStatus, JobStatus
from hookmail.core.mail import AuthResults, Envelope, InboundMessage
from hookmail.core.webhooks import Webhook
from tests.builders import NOW, a_domain, a_log, a_policy, a_webhook, an_account
from tests.conftest import SQL_STORES, clean_engine

PARIS = timezone(timedelta(hours=2))  # an aware time not in UTC: stored as UTC
ODD = NOW + timedelta(microseconds=123456)


@pytest.fixture(params=SQL_STORES)
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """The store; PostgreSQL's sessions in a time zone not UTC, so that its aware datetimes
    come back in that zone unless made UTC."""
    engine = clean_engine(request, request.param)
    if engine.dialect.name != "postgresql":
        yield engine
        return
    with engine.connect() as connection:
        schema = connection.exec_driver_sql("SHOW search_path").scalar()
    options = f"-csearch_path={schema} -ctimezone=Asia/Kolkata"
    zoned = make_engine(
        engine.url.render_as_string(hide_password=False), connect_args={"options": options}
    )
    yield zoned
    zoned.dispose()


def _utc(value: datetime | None) -> None:
    assert value is None or value.utcoffset() == timedelta(0)


def _setup(uow: SqlUnitOfWork, **webhook: Any) -> tuple[Webhook, InboundMessage]:
    account = an_account(timezone="Europe/Paris")
    domain = a_domain(account.id, verified=True)
    policy = a_policy(account.id)
    hook = a_webhook(domain, account.id, **webhook)
    message = InboundMessage.receive(
        raw=b"Subject: x\r\n\r\n\x00\xff",
        envelope=Envelope(
            mail_from="a@example.org", rcpt_to=("in@example.com",), remote_ip="::1", helo="h"
        ),
        auth=AuthResults(),
        now=ODD,
        message_id="<m@example.org>",
    )
    with uow:
        uow.accounts.add(account)
        uow.domains.save(domain)
        uow.policies.save(policy)
        if hook.smtp_security_policy_id is not None:
            hook = evolve(hook, smtp_security_policy_id=policy.id)
        uow.webhooks.save(hook)
        uow.messages.add(message)
        uow.commit()
    return hook, message


def _job(hook: Webhook, message: InboundMessage, **changes: Any) -> DeliveryJob:
    job = DeliveryJob.new(
        message_id=message.id,
        webhook_id=hook.id,
        account_id=hook.account_id,
        recipients=("in@example.com", "b@example.com"),
        now=ODD,
    )
    return evolve(job, **changes)


def test_claimed_jobs_read_as_the_orm_reads_them(engine: Engine) -> None:
    uow = SqlUnitOfWork(make_sessions(engine))
    hook, message = _setup(uow)
    job = _job(hook, message, attempts=2, schedule_start=1)
    with uow:
        uow.jobs.add(job)
        uow.commit()
    lease = (NOW + timedelta(minutes=1, microseconds=7)).astimezone(PARIS)
    with uow:
        (claimed,) = uow.jobs.claim_due(
            NOW + timedelta(seconds=1), limit=5, lease_until=lease, per_webhook=4
        )
        uow.commit()
    assert claimed == evolve(job, claimed_until=lease)  # the lease as given, like before
    _utc(claimed.next_attempt_at)
    _utc(claimed.created_at)
    assert all(isinstance(i, UUID) for i in (claimed.id, claimed.message_id, claimed.account_id))
    with uow:
        assert uow.jobs.get(job.id) == claimed


def test_the_claimed_jobs_messages_and_webhooks_read_as_they_are_stored(engine: Engine) -> None:
    # PostgreSQL reads them with the claim (claim_due's read-ahead); the reads after it
    # give what a read of the store gives, and what was not read ahead comes from the store
    uow = SqlUnitOfWork(make_sessions(engine))
    hook, message = _setup(uow)
    other = evolve(hook, id=UUID(int=hook.id.int ^ 1), address=evolve(hook.address, local="b"))
    job = _job(hook, message)
    with uow:
        uow.webhooks.save(other)
        uow.jobs.add(job)
        uow.commit()
    with uow:
        stored_message = uow.messages.get_many({message.id})
        stored_hooks = uow.webhooks.get_many({hook.id, other.id})
    assert stored_message[message.id] == message
    with uow:
        _claim(uow, NOW + timedelta(seconds=1))
        assert uow.messages.get_many({message.id}) == stored_message
        assert uow.webhooks.get_many({hook.id}) == {hook.id: stored_hooks[hook.id]}
        uow.commit()
    with uow:
        _claim(uow, NOW + timedelta(minutes=5))  # the lease ran out
        assert uow.webhooks.get_many({hook.id, other.id}) == stored_hooks  # one not read ahead
        uow.commit()
    with uow:
        _claim(uow, NOW + timedelta(minutes=10))
        uow.commit()  # what was read ahead and not read is not served after the commit
        renamed = evolve(hook, target_url="https://example.net/renamed")
        uow.webhooks.save(renamed)
        uow.commit()
        assert uow.webhooks.get_many({hook.id})[hook.id][0] == renamed


@pytest.mark.parametrize("flushed", [False, True])
def test_a_read_after_a_write_in_the_claims_transaction_reads_the_store(
    engine: Engine, flushed: bool
) -> None:
    # what the claim read ahead is not served once its transaction has written (an ORM
    # change pending, or flushed: writes.touch): the read sees the write, as on SQLite
    uow = SqlUnitOfWork(make_sessions(engine))
    hook, message = _setup(uow)
    with uow:
        uow.jobs.add(_job(hook, message))
        uow.commit()
    renamed = evolve(hook, target_url="https://example.net/renamed")
    with uow:
        assert _claim(uow, NOW + timedelta(seconds=1))
        uow.webhooks.save(renamed)
        if flushed:
            uow.jobs.existing({UUID(int=1)})  # a raw read: the ORM's change is flushed first
        assert uow.webhooks.get_many({hook.id})[hook.id][0] == renamed


def test_what_was_read_ahead_is_served_once_and_only_while_nothing_is_written(
    engine: Engine,
) -> None:
    sessions = make_sessions(engine)
    with sessions() as session:
        session.connection()  # a transaction
        raw.read_ahead(session, "things", {1: "one", 2: "two"})
        assert raw.read_back(session, "things", {1, 3}) is None  # 3 was not read ahead
        assert raw.read_back(session, "things", {1}) == {1: "one"}
        assert raw.read_back(session, "things", {1}) is None  # served once
        session.add(  # an ORM change, not yet flushed
            MessageRow(
                id=UUID(int=7),
                received_at=NOW,
                mail_from="a@example.org",
                rcpt_to="[]",
                remote_ip="::1",
                helo="h",
                smtp_user=None,
                auth=_auth_json(AuthResults()),
                message_id="<m@example.org>",
                raw=b"",
            )
        )
        assert raw.read_back(session, "things", {2}) is None
        raw.read_ahead(session, "things", {2: "two"})
        session.flush()  # written: forgotten
        assert raw.read_back(session, "things", {2}) is None
        raw.read_ahead(session, "things", {2: "two"})
        session.rollback()  # another transaction next
        session.connection()
        assert raw.read_back(session, "things", {2}) is None


def test_the_claim_sees_changes_saved_earlier_in_its_transaction(engine: Engine) -> None:
    uow = SqlUnitOfWork(make_sessions(engine))
    hook, message = _setup(uow)
    job = _job(hook, message)
    with uow:
        uow.jobs.add(job)
        uow.commit()
    with uow:  # save() goes through the ORM; the claim's SQL comes after it is flushed
        uow.jobs.save(evolve(job, next_attempt_at=ODD + timedelta(hours=1)))
        claimed = uow.jobs.claim_due(
            ODD + timedelta(seconds=1), limit=5, lease_until=ODD, per_webhook=4
        )
    assert claimed == []


def test_saved_jobs_are_stored_as_the_orm_stores_them(engine: Engine) -> None:
    uow = SqlUnitOfWork(make_sessions(engine))
    hook, message = _setup(uow)
    by_orm, by_sql = _job(hook, message), _job(hook, message)
    with uow:
        uow.jobs.add_many([by_orm, by_sql])
        uow.commit()
    due = ODD.astimezone(PARIS) + timedelta(hours=1)
    changes: dict[str, Any] = {"status": JobStatus.FAILED, "attempts": 3, "next_attempt_at": due}
    with uow:
        uow.jobs.save(evolve(by_orm, **changes, claimed_until=due))
        uow.jobs.save_many([evolve(by_sql, **changes, claimed_until=due)])
        uow.commit()
    with engine.connect() as connection:  # the very same values as stored
        stored = connection.execute(
            text("SELECT status, attempts, next_attempt_at, claimed_until FROM delivery_jobs")
        ).all()
    assert stored[0] == stored[1]
    with uow:
        uow.jobs.save_many([evolve(by_sql, claimed_until=None)])
        uow.commit()
    with uow:
        assert uow.jobs.get(by_sql.id) == evolve(by_sql, claimed_until=None)
        saved = uow.jobs.get(by_orm.id)
        assert saved == evolve(by_orm, **changes, claimed_until=due)
        _utc(saved.next_attempt_at if saved else None)


def test_existing_gives_back_the_ids_asked_for_that_exist(engine: Engine) -> None:
    uow = SqlUnitOfWork(make_sessions(engine))
    hook, message = _setup(uow)
    job, gone = _job(hook, message), _job(hook, message)
    with uow:
        uow.jobs.add(job)
        uow.commit()
    with uow:
        assert uow.jobs.existing({job.id, gone.id}) == {job.id}
        assert uow.jobs.existing(set()) == set()


def test_delivery_logs_round_trip_with_and_without_nulls(engine: Engine) -> None:
    uow = SqlUnitOfWork(make_sessions(engine))
    hook, message = _setup(uow)
    job = _job(hook, message)
    full = a_log(
        hook.id,
        attempted_at=ODD.astimezone(PARIS),
        error="HTTP 500",
        status=DeliveryStatus.RETRYING,
        next_attempt_at=(ODD + timedelta(minutes=5)).astimezone(PARIS),
        job_id=job.id,
        attempt=2,
    )
    bare = a_log(hook.id, attempted_at=ODD - timedelta(seconds=1))
    with uow:
        uow.delivery_logs.add_many([full, bare])
        uow.commit()
    with uow:
        assert uow.delivery_logs.get(hook.id, full.id) == full
        assert uow.delivery_logs.get(hook.id, bare.id) == bare
        assert uow.delivery_logs.of_webhook(hook.id, offset=0, limit=5) == [full, bare]
        read = uow.delivery_logs.get(hook.id, full.id)
        assert read is not None
        _utc(read.attempted_at)
        _utc(read.next_attempt_at)


@pytest.mark.parametrize("nulls", [True, False])
def test_messages_and_webhooks_read_as_the_orm_reads_them(engine: Engine, nulls: bool) -> None:
    uow = SqlUnitOfWork(make_sessions(engine))
    fields: dict[str, Any] = {}
    if not nulls:
        fields = {
            "previous_secret": "old-secret",
            "previous_secret_until": ODD.astimezone(PARIS),
            "failing_since": ODD,
            "attachment_url_threshold": 1000,
            "smtp_security_policy_id": UUID(int=1),  # replaced by the policy made
            "payload_template": "{{subject}}",
            "custom_headers": {"X-A": "1"},
            "active": False,
            "rate_limit": 7,
        }
    hook, message = _setup(uow, **fields)
    with uow:
        assert uow.messages.get_many({message.id}) == {message.id: message}
        assert uow.messages.get(message.id) == message
        webhooks = uow.webhooks.get_many({hook.id, UUID(int=2)})
        assert webhooks == {hook.id: (hook, "Europe/Paris")}
        assert uow.webhooks.get(hook.id) == hook
        _utc(uow.messages.get_many({message.id})[message.id].received_at)
    read, _ = webhooks[hook.id]
    assert read.active is hook.active
    _utc(read.created_at)
    _utc(read.failing_since)
    _utc(read.previous_secret_until)


def _add_and_commit(uow: SqlUnitOfWork, log: DeliveryLog) -> None:
    uow.delivery_logs.add_many([log])
    uow.commit()


def test_a_driver_error_is_sqlalchemys_error(engine: Engine) -> None:
    uow = SqlUnitOfWork(make_sessions(engine))
    hook, _ = _setup(uow)
    log = a_log(hook.id)
    with uow:
        uow.delivery_logs.add_many([log])
        uow.commit()
    with uow, pytest.raises(IntegrityError):  # SQLite: at the write; PostgreSQL: the commit
        _add_and_commit(uow, log)
    with uow:  # the store is usable afterwards
        assert uow.delivery_logs.get(hook.id, log.id) == log


def test_a_write_is_seen_by_what_follows_it_in_its_transaction_and_gone_with_a_rollback(
    engine: Engine,
) -> None:
    # PostgreSQL keeps raw writes back until the next statement (raw.py): every kind of
    # read that follows sees them, and a rollback drops them
    uow = SqlUnitOfWork(make_sessions(engine))
    hook, _ = _setup(uow)
    first, second = a_log(hook.id), a_log(hook.id)
    with uow:
        uow.delivery_logs.add_many([first])
        assert uow.delivery_logs.get(hook.id, first.id) == first  # the ORM's read
        uow.delivery_logs.add_many([second])
        since = second.attempted_at - timedelta(seconds=1)
        assert len(uow.delivery_logs.attempts_since(hook.id, since)) == 2  # another
    with uow:  # rolled back: neither was stored
        assert uow.delivery_logs.get(hook.id, first.id) is None
        assert uow.delivery_logs.get(hook.id, second.id) is None
        uow.delivery_logs.add_many([second])
        # nothing reads before the commit: the write goes with it
        uow.commit()
    with uow:
        assert uow.delivery_logs.get(hook.id, second.id) == second
        assert uow.delivery_logs.get(hook.id, first.id) is None


def test_accepted_messages_and_jobs_are_stored_as_the_orm_stores_them(engine: Engine) -> None:
    """The SMTP worker's group commit (messages.add_many, jobs.add_many) in plain SQL; the
    same message and job through the ORM, beside them: the very same stored values."""
    uow = SqlUnitOfWork(make_sessions(engine))
    hook, message = _setup(uow)  # stored by messages.add
    twin = evolve(message, id=UUID(int=message.id.int ^ 1))
    by_sql = _job(hook, message, claimed_until=ODD.astimezone(PARIS), schedule_start=2)
    by_orm = evolve(by_sql, id=UUID(int=by_sql.id.int ^ 1))
    with uow:
        uow.jobs.add_many([by_sql])
        uow.jobs.save(by_orm)  # a merge: the ORM's insert
        uow.commit()
    with make_sessions(engine)() as session:  # the ORM's insert of the message
        session.add(
            MessageRow(
                id=twin.id,
                received_at=twin.received_at,
                mail_from=twin.envelope.mail_from,
                rcpt_to='["in@example.com"]',
                remote_ip=twin.envelope.remote_ip,
                helo=twin.envelope.helo,
                smtp_user=None,
                auth=_auth_json(twin.auth),
                message_id=twin.message_id,
                raw=twin.raw,
            )
        )
        session.commit()
    with engine.connect() as connection:
        jobs = connection.execute(text("SELECT * FROM delivery_jobs ORDER BY id")).all()
        messages = connection.execute(text("SELECT * FROM messages ORDER BY id")).all()
    assert len(jobs) == 2
    assert len(messages) == 2
    assert jobs[0][1:] == jobs[1][1:]  # everything but the id
    assert messages[0][1:] == messages[1][1:]
    with uow:
        assert uow.jobs.get(by_sql.id) == by_sql
        assert uow.messages.get_many({message.id}) == {message.id: message}


def test_a_group_commit_stores_messages_with_their_jobs_or_nothing(engine: Engine) -> None:
    # the SMTP worker's group commit: messages and the jobs that refer to them, in one
    # transaction (on PostgreSQL one statement, raw._one_statement); a job whose message
    # is missing fails the whole batch
    uow = SqlUnitOfWork(make_sessions(engine))
    hook, stored = _setup(uow)
    fresh = [evolve(stored, id=UUID(int=stored.id.int ^ n)) for n in (1, 2)]
    jobs = [_job(hook, message) for message in fresh]
    with uow:
        _store_batch(uow, fresh, jobs)
    orphan = _job(hook, evolve(stored, id=UUID(int=stored.id.int ^ 3)))
    late = evolve(stored, id=UUID(int=stored.id.int ^ 4))
    with uow, pytest.raises(IntegrityError):
        _store_batch(uow, [late], [orphan])
    with uow:
        assert uow.messages.get_many({m.id for m in fresh}) == {m.id: m for m in fresh}
        assert [uow.jobs.get(job.id) for job in jobs] == jobs
        assert uow.messages.get_many({late.id}) == {}
        assert uow.jobs.get(orphan.id) is None


def _store_batch(
    uow: SqlUnitOfWork, messages: list[InboundMessage], jobs: list[DeliveryJob]
) -> None:
    uow.messages.add_many(messages)
    uow.jobs.add_many(jobs)
    uow.commit()


def _claim(uow: SqlUnitOfWork, now: datetime) -> list[DeliveryJob]:
    return uow.jobs.claim_due(now, limit=5, lease_until=ODD, per_webhook=4)
