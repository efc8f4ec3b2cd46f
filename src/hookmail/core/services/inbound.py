"""The SMTP side: who may send to whom, and storing accepted mail durably with its jobs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from uuid import UUID

from attrs import frozen

from hookmail.core import sender_policy
from hookmail.core.deliveries import DeliveryLog, DeliveryStatus
from hookmail.core.errors import InvalidField
from hookmail.core.mail import AuthResults, DeliveryJob, Envelope, InboundMessage, SpfOutcome
from hookmail.core.ports import Clock, PasswordHasher, UnitOfWork
from hookmail.core.smtp_policies import SmtpPolicy
from hookmail.core.webhooks import Address, Webhook, candidates, route

UNKNOWN = "550 5.1.1 mailbox unavailable"
INACTIVE = "550 5.2.1 mailbox disabled"


@frozen
class Accepted:
    recipient: str
    webhook: Webhook
    policy: SmtpPolicy | None


@frozen
class Refused:
    reply: str  # the SMTP reply, "550 5.x.x …"


def smtp_login(uow: UnitOfWork, hasher: PasswordHasher, *, user: str, password: str) -> set[UUID]:
    """The policies whose credentials `user`/`password` match (empty: authentication fails)."""
    with uow.reading():
        policies = uow.policies.with_credential_user(user)
    return {
        p.id
        for p in policies
        for c in p.smtp_credentials
        if c.user == user and hasher.verify(password, c.password_hash)
    }


def _refusal_log(
    webhook: Webhook, *, reason: str, sender: str, message_id: str, now: datetime
) -> DeliveryLog:
    return DeliveryLog.record(
        webhook_id=webhook.id,
        attempted_at=now,
        duration_ms=0,
        http_status=0,
        error=f"refused by SMTP security policy: {reason}",
        sender=sender,
        smtp_message_id=message_id,
        attempt=0,
        status=DeliveryStatus.REFUSED,
    )


def check_recipient(
    uow: UnitOfWork,
    clock: Clock,
    *,
    recipient: str,
    mail_from: str,
    remote_ip: str,
    authenticated_policies: set[UUID],
    spf: Callable[[], SpfOutcome],
) -> Accepted | Refused:
    """Route a RCPT TO and check the webhook's policy; a policy refusal is logged for the
    customer to see."""
    try:
        address = Address.parse(recipient)
    except InvalidField:
        return Refused(UNKNOWN)
    with uow.reading():
        found = route(address, uow.webhooks.routes(candidates(address)))
    if found is None or not found.domain.usable_by(found.webhook.account_id):
        return Refused(UNKNOWN)
    webhook, policy = found.webhook, found.policy
    if not webhook.active:
        return Refused(INACTIVE)
    reason = sender_policy.refusal_at_rcpt(
        policy, remote_ip=remote_ip, authenticated_policies=authenticated_policies, spf=spf
    )
    if reason is None:
        return Accepted(str(address), webhook, policy)
    with uow:
        uow.delivery_logs.add(
            _refusal_log(webhook, reason=reason, sender=mail_from, message_id="", now=clock.now())
        )
        uow.commit()
    return Refused(f"550 5.7.1 {reason}")


@frozen
class Prepared:
    """A message ready to commit: the message (None when every recipient was refused), one
    job per webhook, and a log row per DKIM refusal."""

    message: InboundMessage | None
    jobs: tuple[DeliveryJob, ...]
    refusals: tuple[DeliveryLog, ...]


def prepare_message(
    clock: Clock,
    *,
    raw: bytes,
    envelope: Envelope,
    auth: AuthResults,
    accepted: list[Accepted],
    message_id: str | None,
) -> Prepared:
    """Apply the DKIM side of each recipient's policy and build what to store. No I/O."""
    now = clock.now()
    message = InboundMessage.receive(
        raw=raw, envelope=envelope, auth=auth, now=now, message_id=message_id
    )
    by_webhook: dict[UUID, list[str]] = {}
    refusals: dict[UUID, DeliveryLog] = {}
    for item in accepted:
        reason = sender_policy.refusal_after_data(item.policy, auth.dkim)
        if reason is None:
            by_webhook.setdefault(item.webhook.id, []).append(item.recipient)
        elif item.webhook.id not in refusals:
            refusals[item.webhook.id] = _refusal_log(
                item.webhook,
                reason=reason,
                sender=envelope.mail_from,
                message_id=message.message_id,
                now=now,
            )
    jobs = tuple(
        DeliveryJob.new(
            message_id=message.id, webhook_id=webhook_id, recipients=tuple(recipients), now=now
        )
        for webhook_id, recipients in by_webhook.items()
    )
    return Prepared(message if jobs else None, jobs, tuple(refusals.values()))


def commit_prepared(uow: UnitOfWork, batch: list[Prepared]) -> None:
    """Store several prepared messages in one transaction: one fsync for all (group commit).
    Raises whatever the store raises; then nothing of the batch is stored."""
    with uow:
        for prepared in batch:
            for log in prepared.refusals:
                uow.delivery_logs.add(log)
        uow.messages.add_many([p.message for p in batch if p.message is not None])
        uow.jobs.add_many([job for p in batch for job in p.jobs])
        uow.commit()
