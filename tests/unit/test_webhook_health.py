"""Failing webhooks (SPEC §6.3) through delivery.record() on the in-memory store: the first
failure starts the clock, a success stops it, failing past DISABLE_AFTER disables the webhook
and mails its owner once."""

from __future__ import annotations

from datetime import datetime, timedelta

from attrs import evolve

from hookmail.adapters.memory import InMemoryUnitOfWork, RecordingMailer
from hookmail.core.deliveries import DeliveryJob, DeliveryLog, DeliveryStatus
from hookmail.core.mail import AuthResults, Envelope, InboundMessage
from hookmail.core.services import delivery
from hookmail.core.services.delivery import Attempt
from hookmail.core.services.webhook_health import HealthPolicy, would_change
from hookmail.core.webhooks import Webhook
from tests.builders import NOW, a_domain, a_webhook, an_account

HOUR = timedelta(hours=1)


def _store() -> tuple[InMemoryUnitOfWork, Webhook, DeliveryJob, InboundMessage, str]:
    uow = InMemoryUnitOfWork()
    account = an_account()
    domain = a_domain(account.id)
    hook = a_webhook(domain, account.id)
    message = InboundMessage.receive(
        raw=b"Subject: x\r\n\r\nhi\r\n",
        envelope=Envelope(mail_from="a@x.test", rcpt_to=("in",), remote_ip="", helo=""),
        auth=AuthResults(),
        now=NOW,
        message_id=None,
    )
    job = DeliveryJob.new(
        message_id=message.id,
        webhook_id=hook.id,
        account_id=account.id,
        recipients=("in",),
        now=NOW,
    )
    with uow:
        uow.accounts.add(account)
        uow.domains.save(domain)
        uow.webhooks.save(hook)
        uow.messages.add(message)
        uow.jobs.add(job)
        uow.commit()
    return uow, hook, job, message, account.email


def _attempt(
    uow: InMemoryUnitOfWork, job: DeliveryJob, message: InboundMessage, at: datetime, status: int
) -> Attempt:
    with uow.reading():
        hook = uow.webhooks.get(job.webhook_id)
    assert hook is not None
    log = DeliveryLog.record(
        webhook_id=hook.id,
        attempted_at=at,
        duration_ms=1,
        http_status=status,
        error=None if status == 200 else f"HTTP {status}",
        sender="a@x.test",
        smtp_message_id=message.message_id,
        attempt=1,
        status=DeliveryStatus.DELIVERED if status == 200 else DeliveryStatus.RETRYING,
    )
    return Attempt(hook, message.received_at, log, evolve(job, attempts=1))


def _hook(uow: InMemoryUnitOfWork, hook: Webhook) -> Webhook:
    with uow.reading():
        found = uow.webhooks.get(hook.id)
    assert found is not None
    return found


def test_failing_past_disable_after_disables_once_and_mails_the_owner() -> None:
    uow, hook, job, message, owner = _store()
    mailer = RecordingMailer()
    health = HealthPolicy(disable_after=24 * HOUR, mailer=mailer, public_url="https://h.test")
    delivery.record(uow, [_attempt(uow, job, message, NOW, 500)], health)
    assert _hook(uow, hook).failing_since == NOW
    delivery.record(uow, [_attempt(uow, job, message, NOW + 23 * HOUR, 500)], health)
    assert _hook(uow, hook).active  # not long enough yet
    late = [_attempt(uow, job, message, NOW + 25 * HOUR, 503) for _ in range(2)]
    delivery.record(uow, late, health)
    disabled = _hook(uow, hook)
    assert (disabled.active, disabled.disabled_reason, disabled.failing_since) == (
        False,
        "failing",
        NOW,
    )
    (notice,) = mailer.sent  # two failures in the batch, one notice
    assert notice.to == owner
    for needle in (str(hook.id), str(hook.address), hook.target_url, "HTTP 503", "1 day"):
        assert needle in notice.body
    delivery.record(uow, [_attempt(uow, job, message, NOW + 26 * HOUR, 500)], health)
    assert len(mailer.sent) == 1


def test_a_success_ends_the_spell_and_a_healthy_success_writes_nothing() -> None:
    uow, hook, job, message, _ = _store()
    health = HealthPolicy(disable_after=HOUR, mailer=RecordingMailer(), public_url="x")
    fine = _attempt(uow, job, message, NOW, 200)
    assert not would_change([fine])  # healthy and delivered: no transaction needed
    delivery.record(uow, [_attempt(uow, job, message, NOW, 500)], health)
    delivery.record(uow, [_attempt(uow, job, message, NOW + 2 * HOUR, 200)], health)
    assert _hook(uow, hook).failing_since is None
    delivery.record(uow, [_attempt(uow, job, message, NOW + 3 * HOUR, 500)], health)
    again = _hook(uow, hook)
    assert again.active
    assert again.failing_since == NOW + 3 * HOUR  # a new spell
