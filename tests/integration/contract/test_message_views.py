"""The store contract for the message list, replay and webhook health, on the fake, SQLite
and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

from attrs import evolve

from hookmail.core.accounts import Account
from hookmail.core.deliveries import DeliveryJob, JobStatus
from hookmail.core.mail import AuthResults, Envelope, InboundMessage
from hookmail.core.messages import MessageStatus
from hookmail.core.ports import UnitOfWork
from hookmail.core.webhooks import Webhook
from tests.builders import NOW, a_domain, a_webhook, an_account

ALL_DONE = frozenset({JobStatus.DELIVERED, JobStatus.FAILED})


def _two_accounts(uow: UnitOfWork) -> tuple[Account, Webhook, Webhook, Account, Webhook]:
    alice, bob = an_account(email="alice@example.com"), an_account(email="bob@example.com")
    a_dom = a_domain(alice.id, "alice.example", verified=True)
    b_dom = a_domain(bob.id, "bob.example", verified=True)
    a1, a2 = a_webhook(a_dom, alice.id, "one"), a_webhook(a_dom, alice.id, "two")
    b1 = a_webhook(b_dom, bob.id, "in")
    with uow:
        uow.accounts.add(alice)
        uow.accounts.add(bob)
        uow.domains.save(a_dom)
        uow.domains.save(b_dom)
        for hook in (a1, a2, b1):
            uow.webhooks.save(hook)
        uow.commit()
    return alice, a1, a2, bob, b1


def _store(
    uow: UnitOfWork, at_seconds: int, *deliveries: tuple[Webhook, JobStatus], subject: str = "hi"
) -> tuple[InboundMessage, list[DeliveryJob]]:
    """A message received NOW + `at_seconds`, with one job per (webhook, status)."""
    now = NOW + timedelta(seconds=at_seconds)
    rcpt = tuple(str(w.address) for w, _ in deliveries)
    message = InboundMessage.receive(
        raw=f"Subject: {subject}\r\nFrom: a@example.org\r\n\r\nbody\r\n".encode(),
        envelope=Envelope(mail_from="a@example.org", rcpt_to=rcpt, remote_ip="192.0.2.1", helo="h"),
        auth=AuthResults(),
        now=now,
        message_id=None,
    )
    jobs = [
        evolve(
            DeliveryJob.new(
                message_id=message.id,
                webhook_id=w.id,
                account_id=w.account_id,
                recipients=(str(w.address),),
                now=now,
            ),
            status=status,
            attempts=0 if status is JobStatus.PENDING else 3,
        )
        for w, status in deliveries
    ]
    with uow:
        uow.messages.add(message)
        uow.jobs.add_many(jobs)
        uow.commit()
    return message, jobs


def test_the_list_is_the_accounts_messages_newest_first_paged(uow: UnitOfWork) -> None:
    alice, a1, a2, bob, b1 = _two_accounts(uow)
    old, _ = _store(uow, 1, (a1, JobStatus.DELIVERED))
    shared, _ = _store(
        uow, 2, (a1, JobStatus.DELIVERED), (a2, JobStatus.FAILED), (b1, JobStatus.PENDING)
    )
    bobs, _ = _store(uow, 3, (b1, JobStatus.DELIVERED))
    with uow.reading():
        page = uow.messages.page_of_account(
            alice.id, webhook_id=None, status=None, offset=0, limit=10
        )
        assert page == [shared.id, old.id]  # once each, though two of alice's webhooks had it
        assert uow.messages.page_of_account(
            alice.id, webhook_id=None, status=None, offset=1, limit=1
        ) == [old.id]
        assert (
            uow.messages.page_of_account(alice.id, webhook_id=None, status=None, offset=5, limit=10)
            == []
        )
        assert uow.messages.page_of_account(
            bob.id, webhook_id=None, status=None, offset=0, limit=10
        ) == [bobs.id, shared.id]
        assert uow.messages.page_of_account(
            alice.id, webhook_id=a2.id, status=None, offset=0, limit=10
        ) == [shared.id]
        assert (
            uow.messages.page_of_account(
                alice.id, webhook_id=b1.id, status=None, offset=0, limit=10
            )
            == []
        )  # another account's webhook matches nothing


def test_the_status_filter_follows_the_accounts_own_deliveries(uow: UnitOfWork) -> None:
    alice, a1, a2, bob, b1 = _two_accounts(uow)
    pending, _ = _store(uow, 1, (a1, JobStatus.PENDING), (a2, JobStatus.FAILED))
    failed, _ = _store(uow, 2, (a1, JobStatus.DELIVERED), (a2, JobStatus.FAILED))
    delivered, _ = _store(uow, 3, (a1, JobStatus.DELIVERED), (b1, JobStatus.PENDING))

    def page(account: Account, status: MessageStatus, webhook: Webhook | None = None) -> list[UUID]:
        return uow.messages.page_of_account(
            account.id,
            webhook_id=webhook.id if webhook else None,
            status=status,
            offset=0,
            limit=10,
        )

    with uow.reading():
        assert page(alice, MessageStatus.PENDING) == [pending.id]
        assert page(alice, MessageStatus.FAILED) == [failed.id]
        assert page(alice, MessageStatus.DELIVERED) == [delivered.id]  # bob's pending is not hers
        assert page(bob, MessageStatus.PENDING) == [delivered.id]
        assert page(alice, MessageStatus.FAILED, a1) == [failed.id]  # the message's status
        assert page(alice, MessageStatus.DELIVERED, a2) == []


def test_summaries_and_jobs_show_no_other_accounts_part(uow: UnitOfWork) -> None:
    alice, a1, _, bob, b1 = _two_accounts(uow)
    message, jobs = _store(
        uow, 1, (a1, JobStatus.DELIVERED), (b1, JobStatus.PENDING), subject="=?utf-8?q?caf=C3=A9?="
    )
    with uow.reading():
        (summary,) = uow.messages.summaries({message.id}).values()
        assert summary.subject == "café"
        assert summary.size == len(message.raw)
        assert summary.received_at == message.received_at
        assert [j.id for j in uow.jobs.of_messages(alice.id, {message.id})] == [jobs[0].id]
        assert [j.id for j in uow.jobs.of_messages(bob.id, {message.id})] == [jobs[1].id]
        assert uow.messages.summaries(set()) == {}
        assert uow.jobs.of_messages(alice.id, set()) == []


def test_requeue_restarts_the_schedule_and_never_doubles_a_pending_job(uow: UnitOfWork) -> None:
    _, a1, a2, _, _ = _two_accounts(uow)
    _, (done, waiting) = _store(uow, 1, (a1, JobStatus.FAILED), (a2, JobStatus.PENDING))
    later = NOW + timedelta(hours=1)
    with uow:
        assert uow.jobs.requeue([done.id, waiting.id], now=later) == 1
        uow.commit()
    with uow.reading():
        again, untouched = uow.jobs.get(done.id), uow.jobs.get(waiting.id)
    assert again is not None
    assert untouched == waiting
    assert (again.status, again.attempts, again.schedule_start) == (JobStatus.PENDING, 3, 3)
    assert again.next_attempt_at == later
    assert again.claimed_until is None
    with uow:
        assert uow.jobs.requeue([done.id], now=later) == 0  # pending now: not queued twice
        assert uow.jobs.requeue([], now=later) == 0


def test_a_window_is_read_in_keyset_batches(uow: UnitOfWork) -> None:
    _, a1, a2, _, _ = _two_accounts(uow)
    made = [_store(uow, n, (a1, JobStatus.FAILED))[1][0] for n in range(7)]
    _store(uow, 3, (a1, JobStatus.DELIVERED))
    _store(uow, 3, (a2, JobStatus.FAILED))
    since, until = NOW + timedelta(seconds=1), NOW + timedelta(seconds=5)
    seen: list[DeliveryJob] = []
    after = None
    with uow.reading():
        while True:
            batch = uow.jobs.replayable(
                a1.id,
                since=since,
                until=until,
                statuses=frozenset({JobStatus.FAILED}),
                after=after,
                limit=2,
            )
            seen.extend(batch)
            if len(batch) < 2:
                break
            after = (batch[-1].created_at, batch[-1].id)
        assert [j.id for j in seen] == [j.id for j in made[1:6]]
        everything = uow.jobs.replayable(
            a1.id, since=since, until=until, statuses=ALL_DONE, after=None, limit=100
        )
        assert len(everything) == 6  # the delivered one too


def test_health_marks_are_conditional_and_disable_happens_once(uow: UnitOfWork) -> None:
    _, a1, _, _, _ = _two_accounts(uow)
    first, second = NOW, NOW + timedelta(hours=1)
    with uow:
        uow.webhooks.mark_failing(a1.id, first)
        uow.webhooks.mark_failing(a1.id, second)  # the first failure counts
        uow.commit()
    with uow:
        hook = uow.webhooks.get(a1.id)
        assert hook is not None
        assert hook.failing_since == first
        assert not uow.webhooks.disable_failing(a1.id, failing_before=first, now=second)
        assert uow.webhooks.disable_failing(a1.id, failing_before=second, now=second)
        assert not uow.webhooks.disable_failing(a1.id, failing_before=second, now=second)
        uow.commit()
    with uow:
        hook = uow.webhooks.get(a1.id)
        assert hook is not None
        assert (hook.active, hook.disabled_reason) == (False, "failing")
        uow.webhooks.mark_healthy(a1.id)
        uow.commit()
    with uow.reading():
        hook = uow.webhooks.get(a1.id)
        assert hook is not None
        assert hook.failing_since is None
