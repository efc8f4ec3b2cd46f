"""The queue's fairness and batch contract, on the fake, SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from attrs import evolve

from hookmail.core.deliveries import DeliveryLog, DeliveryStatus, JobStatus
from hookmail.core.ports import UnitOfWork
from tests.builders import NOW
from tests.integration.contract.test_queue_store import _enqueue, _setup

LEASE = NOW + timedelta(minutes=1)
LATER = NOW + timedelta(minutes=10)


def test_a_webhook_gets_no_more_than_its_share_and_others_are_claimed_past_its_backlog(
    uow: UnitOfWork,
) -> None:
    _, slow, healthy = _setup(uow)
    _enqueue(uow, slow, 30)  # older: first in due order
    fresh = _enqueue(uow, healthy, 2, next_attempt_at=NOW + timedelta(minutes=5))
    with uow:
        first = uow.jobs.claim_due(
            LATER, limit=10, per_webhook=3, lease_until=LATER + timedelta(minutes=1)
        )
        uow.commit()
    assert [j.webhook_id for j in first].count(slow.id) == 3
    assert {j.id for j in first if j.webhook_id == healthy.id} == {j.id for j in fresh}
    with uow:  # the slow webhook's share is taken while its leases live
        again = uow.jobs.claim_due(LATER, limit=10, per_webhook=3, lease_until=LATER)
        uow.commit()
    assert again == []


def test_the_share_counts_every_workers_leases(uow: UnitOfWork) -> None:
    _, hook, _ = _setup(uow)
    _enqueue(uow, hook, 5)
    with uow:  # another worker holds two
        uow.jobs.claim_due(NOW + timedelta(seconds=10), limit=2, per_webhook=9, lease_until=LATER)
        uow.commit()
    with uow:
        mine = uow.jobs.claim_due(
            NOW + timedelta(seconds=10), limit=9, per_webhook=3, lease_until=LATER
        )
        uow.commit()
    assert len(mine) == 1


def test_jobs_of_an_inactive_webhook_wait(uow: UnitOfWork) -> None:
    _, hook, _ = _setup(uow)
    _enqueue(uow, hook, 2)
    with uow:
        uow.webhooks.save(evolve(hook, active=False))
        uow.commit()
    with uow:
        assert uow.jobs.claim_due(LATER, limit=9, per_webhook=9, lease_until=LATER) == []
        uow.webhooks.save(hook)
        uow.commit()
    with uow:
        assert len(uow.jobs.claim_due(LATER, limit=9, per_webhook=9, lease_until=LATER)) == 2


def test_batch_save_existing_and_release(uow: UnitOfWork) -> None:
    _, hook, _ = _setup(uow)
    first, second = _enqueue(uow, hook, 2)
    with uow:
        claimed = uow.jobs.claim_due(LATER, limit=2, per_webhook=9, lease_until=LATER)
        uow.commit()
    assert len(claimed) == 2
    done = evolve(first, attempts=1, status=JobStatus.DELIVERED, claimed_until=None)
    log = DeliveryLog.record(
        webhook_id=hook.id,
        attempted_at=NOW,
        duration_ms=3,
        http_status=200,
        error=None,
        sender="a@example.org",
        smtp_message_id="<m@example.org>",
        attempt=1,
        status=DeliveryStatus.DELIVERED,
    )
    with uow:
        missing = evolve(first, id=second.message_id)  # an id that names no job
        assert uow.jobs.existing({first.id, second.id, missing.id}) == {first.id, second.id}
        uow.jobs.save_many([done])
        uow.delivery_logs.add_many([log])
        uow.jobs.release({second.id})
        uow.commit()
    with uow.reading():
        assert uow.jobs.get(first.id) == done
        assert uow.jobs.get(second.id) is not None
        assert uow.jobs.get(second.id).claimed_until is None  # type: ignore[union-attr]
        assert uow.delivery_logs.of_webhook(hook.id, offset=0, limit=5) == [log]
    with uow:  # given back: claimable again at once
        again = uow.jobs.claim_due(
            NOW + timedelta(seconds=5), limit=9, per_webhook=9, lease_until=LATER
        )
        uow.commit()
    assert [j.id for j in again] == [second.id]


def test_a_failing_webhook_gets_the_smaller_share(uow: UnitOfWork) -> None:
    _, failing, healthy = _setup(uow)
    with uow:
        uow.webhooks.save(evolve(failing, failing_since=NOW))
        uow.commit()
    _enqueue(uow, failing, 5)
    _enqueue(uow, healthy, 5)
    with uow:
        claimed = uow.jobs.claim_due(
            LATER, limit=10, per_webhook=3, per_failing_webhook=1, lease_until=LATER
        )
        uow.commit()
    assert [j.webhook_id for j in claimed].count(failing.id) == 1
    assert [j.webhook_id for j in claimed].count(healthy.id) == 3


def test_given_what_it_holds_a_workers_share_is_of_its_own_attempts(uow: UnitOfWork) -> None:
    # `held`: the caller's attempts in flight per webhook; other workers' leases don't count
    # against it, so each worker gives a busy webhook its share of its own capacity
    _, hook, other = _setup(uow)
    _enqueue(uow, hook, 12)
    _enqueue(uow, other, 2, next_attempt_at=NOW + timedelta(minutes=5))
    soon = NOW + timedelta(seconds=30)
    with uow:  # another worker holds four of hook's jobs
        assert len(uow.jobs.claim_due(soon, limit=4, per_webhook=9, lease_until=LATER)) == 4
        uow.commit()
    with uow:
        mine = uow.jobs.claim_due(soon, limit=9, per_webhook=3, lease_until=LATER, held={})
        uow.commit()
    assert len(mine) == 3  # its whole share here, whatever the other worker holds
    with uow:  # holding two (and none of other's), one more of hook's and all of other's
        more = uow.jobs.claim_due(
            LATER, limit=9, per_webhook=3, lease_until=LATER, held={hook.id: 2}
        )
        uow.commit()
    assert sorted(j.webhook_id == hook.id for j in more) == [False, False, True]
    with uow:  # holding its share: none
        none = uow.jobs.claim_due(
            LATER, limit=9, per_webhook=3, lease_until=LATER, held={hook.id: 3, other.id: 0}
        )
        uow.commit()
    assert none == []


def test_given_what_it_holds_a_failing_webhook_gets_the_smaller_share(uow: UnitOfWork) -> None:
    _, failing, healthy = _setup(uow)
    with uow:
        uow.webhooks.save(evolve(failing, failing_since=NOW))
        uow.commit()
    _enqueue(uow, failing, 5)
    _enqueue(uow, healthy, 5)
    with uow:
        claimed = uow.jobs.claim_due(
            LATER,
            limit=10,
            per_webhook=3,
            per_failing_webhook=2,
            lease_until=LATER,
            held={failing.id: 1, healthy.id: 1},
        )
        uow.commit()
    assert [j.webhook_id for j in claimed].count(failing.id) == 1
    assert [j.webhook_id for j in claimed].count(healthy.id) == 2
