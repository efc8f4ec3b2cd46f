"""The SMTP side: who may send to whom, and storing accepted mail durably with its jobs."""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from attrs import frozen

from hookmail.core.deliveries import DeliveryJob, DeliveryLog, DeliveryStatus
from hookmail.core.errors import InvalidField
from hookmail.core.mail import (
    AuthResults,
    Envelope,
    InboundMessage,
    SpfOutcome,
    message_id_of,
    normalise_line_endings,
    received_header,
)
from hookmail.core.ports import (
    Clock,
    DkimVerifier,
    DmarcEvaluator,
    Route,
    SpfChecker,
    UnitOfWork,
)
from hookmail.core.services import authentication
from hookmail.core.services.authentication import AuthChecks
from hookmail.core.smtp_policies import SmtpPolicy, refusal_after_data, refusal_at_rcpt
from hookmail.core.webhooks import Address, Webhook, candidates, route


class RefusalReason(StrEnum):
    """Why a recipient is refused; each face words it its own way (SMTP replies live in
    entrypoints/smtp/replies.py)."""

    UNKNOWN = "unknown"  # no webhook takes the address, or its domain is not usable
    INACTIVE = "inactive"  # the webhook is paused or disabled
    POLICY = "policy"  # the webhook's SMTP security policy refuses the sender


@frozen
class Accepted:
    recipient: str
    webhook: Webhook
    policy: SmtpPolicy | None


@frozen
class Refused:
    reason: RefusalReason
    detail: str = ""  # for POLICY: the policy's words ("SPF fail for example.org")


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


def parse_recipient(recipient: str) -> Address | None:
    """The RCPT TO address in hookmail's normal form, or None when it is no valid address."""
    try:
        return Address.parse(recipient)
    except InvalidField:
        return None


def find_route(uow: UnitOfWork, address: Address) -> Route | None:
    """The webhook (with its domain and policy) that takes mail for `address`, if any and
    if its domain is usable by the webhook's account. One read of the store."""
    with uow.reading():
        found = route(address, uow.webhooks.routes(candidates(address)))
    if found is None or not found.domain.usable_by(found.webhook.account_id):
        return None
    return found


def decide_recipient(
    found: Route | None,
    *,
    recipient: str,
    remote_ip: str,
    authenticated_policies: Collection[UUID],
    spf: Callable[[], SpfOutcome],
) -> Accepted | Refused:
    """Accept or refuse a RCPT TO (`recipient` in normal form) already routed by
    find_route(). No store access; `spf` is called only when the webhook's policy needs it."""
    if found is None:
        return Refused(RefusalReason.UNKNOWN)
    webhook, policy = found.webhook, found.policy
    if not webhook.active:
        return Refused(RefusalReason.INACTIVE)
    reason = refusal_at_rcpt(
        policy, remote_ip=remote_ip, authenticated_policies=authenticated_policies, spf=spf
    )
    if reason is None:
        return Accepted(recipient, webhook, policy)
    return Refused(RefusalReason.POLICY, reason)


def log_refusal(
    uow: UnitOfWork, clock: Clock, webhook: Webhook, *, detail: str, mail_from: str
) -> None:
    """Record a policy refusal at RCPT for the customer to see."""
    with uow:
        uow.delivery_logs.add(
            _refusal_log(webhook, reason=detail, sender=mail_from, message_id="", now=clock.now())
        )
        uow.commit()


def check_recipient(
    uow: UnitOfWork,
    clock: Clock,
    *,
    recipient: str,
    mail_from: str,
    remote_ip: str,
    authenticated_policies: Collection[UUID],
    spf: Callable[[], SpfOutcome],
) -> Accepted | Refused:
    """Route a RCPT TO and check the webhook's policy; a policy refusal is logged for the
    customer to see. (The SMTP worker runs the same three steps with a route cache.)"""
    address = parse_recipient(recipient)
    if address is None:
        return Refused(RefusalReason.UNKNOWN)
    found = find_route(uow, address)
    decision = decide_recipient(
        found,
        recipient=str(address),
        remote_ip=remote_ip,
        authenticated_policies=authenticated_policies,
        spf=spf,
    )
    if isinstance(decision, Refused) and decision.reason is RefusalReason.POLICY and found:
        log_refusal(uow, clock, found.webhook, detail=decision.detail, mail_from=mail_from)
    return decision


@frozen
class Prepared:
    """A message ready to commit: the message (None when every recipient was refused), one
    job per webhook, and a log row per DKIM or DMARC refusal."""

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
    hostname: str,
) -> Prepared:
    """Apply the DKIM and DMARC side of each recipient's policy and build what to store: the
    message as received (line endings normalised, hookmail's `Received` header on top), one
    job per webhook, a log row per DKIM or DMARC refusal. No I/O."""
    now = clock.now()
    raw = normalise_line_endings(raw)
    received = received_header(
        helo=envelope.helo, remote_ip=envelope.remote_ip, hostname=hostname, now=now
    )
    message = InboundMessage.receive(
        raw=received + raw, envelope=envelope, auth=auth, now=now, message_id=message_id_of(raw)
    )
    by_webhook: dict[UUID, list[str]] = {}
    owners: dict[UUID, UUID] = {}
    refusals: dict[UUID, DeliveryLog] = {}
    for item in accepted:
        reason = refusal_after_data(item.policy, auth)
        if reason is None:
            by_webhook.setdefault(item.webhook.id, []).append(item.recipient)
            owners[item.webhook.id] = item.webhook.account_id
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
            message_id=message.id,
            webhook_id=webhook_id,
            account_id=owners[webhook_id],
            recipients=tuple(recipients),
            now=now,
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


@frozen
class Receipt:
    """What became of one message: the message as stored (None when every recipient was
    refused), its jobs (one per webhook), and each recipient accepted or refused, and why."""

    message: InboundMessage | None
    jobs: tuple[DeliveryJob, ...]
    accepted: tuple[Accepted, ...]
    refused: dict[str, Refused]


def receive(
    uow: UnitOfWork,
    clock: Clock,
    spf: SpfChecker,
    dkim: DkimVerifier,
    *,
    raw: bytes,
    mail_from: str,
    rcpt_to: Collection[str],
    remote_ip: str,
    helo: str,
    hostname: str,
    smtp_user: str | None = None,
    authenticated_policies: Collection[UUID] = (),
    dmarc: DmarcEvaluator = authentication.UNAVAILABLE,
    auth_checks: AuthChecks = AuthChecks.POLICY,
) -> Receipt:
    """The whole inbound path of one message, at once: each recipient routed and checked
    against its webhook's policy (as at RCPT), then DKIM and DMARC (as after DATA, per
    `auth_checks`), then the message
    stored durably with its jobs. The SMTP worker runs the same steps across the session
    (check_recipient's parts at RCPT, prepare_message and commit_prepared at DATA)."""
    checked: list[SpfOutcome] = []

    def spf_once() -> SpfOutcome:
        if not checked:
            checked.append(spf.check(ip=remote_ip, mail_from=mail_from, helo=helo))
        return checked[0]

    accepted: list[Accepted] = []
    refused: dict[str, Refused] = {}
    for recipient in rcpt_to:
        decision = check_recipient(
            uow,
            clock,
            recipient=recipient,
            mail_from=mail_from,
            remote_ip=remote_ip,
            authenticated_policies=authenticated_policies,
            spf=spf_once,
        )
        if isinstance(decision, Accepted):
            accepted.append(decision)
        else:
            refused[recipient] = decision
    if not accepted:
        return Receipt(None, (), (), refused)
    wanted = authentication.needs((a.policy for a in accepted), auth_checks)
    auth = AuthResults(spf=checked[0] if checked else None)
    if wanted.any:
        auth = authentication.check(
            wanted,
            dkim,
            dmarc,
            raw=normalise_line_endings(raw),
            spf=spf_once,
            spf_known=auth.spf,
        )
    prepared = prepare_message(
        clock,
        raw=raw,
        envelope=Envelope(
            mail_from=mail_from,
            rcpt_to=tuple(a.recipient for a in accepted),
            remote_ip=remote_ip,
            helo=helo,
            smtp_user=smtp_user,
        ),
        auth=auth,
        accepted=accepted,
        hostname=hostname,
    )
    commit_prepared(uow, [prepared])
    jobs_of = {job.webhook_id for job in prepared.jobs}
    for item in accepted:
        if item.webhook.id not in jobs_of:  # the policy's words, as for a refusal at RCPT
            why = refusal_after_data(item.policy, auth) or ""
            refused[item.recipient] = Refused(RefusalReason.POLICY, why)
    kept = tuple(a for a in accepted if a.webhook.id in jobs_of)
    return Receipt(prepared.message, prepared.jobs, kept, refused)
