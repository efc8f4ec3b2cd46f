"""One message as the dashboard shows it: each of the account's deliveries with every
attempt, and the payload an attempt sends, built by the delivery code itself."""

from __future__ import annotations

from uuid import UUID

from attrs import frozen

from hookmail.core import payload
from hookmail.core.deliveries import DeliveryJob, DeliveryLog
from hookmail.core.errors import TemplateRenderError
from hookmail.core.messages import AccountMessage
from hookmail.core.ports import Clock, UnitOfWork
from hookmail.core.services.delivery import DeliveryConfig, Work, build_request
from hookmail.core.services.messages import get_message

PAYLOAD_SHOWN = 1024 * 1024  # a larger message's payload is not rebuilt for a page


@frozen
class DeliveryDetail:
    delivery: DeliveryJob
    address: str  # the webhook's
    attempts: list[DeliveryLog]  # oldest first
    payload: str  # the body an attempt sends (its signature headers aside)


@frozen
class MessageDetail:
    message: AccountMessage
    deliveries: list[DeliveryDetail]


def message_detail(
    uow: UnitOfWork, clock: Clock, config: DeliveryConfig, *, account_id: UUID, message_id: UUID
) -> MessageDetail:
    """The account's view of the message (NotFound for another's), each delivery with its
    attempts and payload."""
    found = get_message(uow, account_id=account_id, message_id=message_id)
    summary = found.summary
    details = []
    with uow.reading():
        stored = uow.messages.get(message_id)
        account = uow.accounts.get(account_id)
        parsed = payload.parse(stored.raw) if stored and stored.size <= PAYLOAD_SHOWN else None
        for job in found.deliveries:
            webhook = uow.webhooks.get(job.webhook_id)
            attempts = uow.activity.attempts_of(job, summary.message_id)
            body = f"(the message is over {PAYLOAD_SHOWN} bytes: see the raw message)"
            if stored is not None and webhook is not None and parsed is not None:
                work = Work(job, stored, webhook, account.timezone if account else "UTC")
                try:
                    sent, _ = build_request(work, parsed, config, clock.now())
                    body = sent.decode("utf-8", "replace")
                except TemplateRenderError as exc:
                    body = f"(the payload template fails: {exc})"
            address = str(webhook.address) if webhook else "(deleted webhook)"
            details.append(DeliveryDetail(job, address, attempts, body))
    return MessageDetail(found, details)
