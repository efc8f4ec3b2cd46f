"""Stored messages as one account sees them: only its own recipients and deliveries."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from attrs import field, frozen

from hookmail.core import header_values, mime
from hookmail.core.deliveries import DeliveryJob, JobStatus
from hookmail.core.errors import InvalidField

HEAD_BYTES = 64 * 1024  # how much of a stored message is read to show its subject


class MessageStatus(StrEnum):
    PENDING = "pending"  # some delivery is still pending
    FAILED = "failed"  # none pending, some failed
    DELIVERED = "delivered"  # every delivery delivered

    @classmethod
    def parse(cls, raw: str | None) -> MessageStatus | None:
        if raw is None:
            return None
        try:
            return cls(raw)
        except ValueError:
            raise InvalidField("status", "must be pending, delivered or failed") from None


def status_of(deliveries: tuple[DeliveryJob, ...]) -> MessageStatus:
    return status_from({d.status for d in deliveries})


def status_from(statuses: Collection[JobStatus]) -> MessageStatus:
    """Pending while any delivery is, else failed if any failed, else delivered."""
    if JobStatus.PENDING in statuses:
        return MessageStatus.PENDING
    if JobStatus.FAILED in statuses:
        return MessageStatus.FAILED
    return MessageStatus.DELIVERED


def subject_of(head: bytes) -> str:
    """The Subject of a message whose first bytes are `head`, decoded exactly as the
    payload's `subject` is; "" when there is none."""
    fields, _ = mime.header_block(head, 0, len(head))
    subject = next((value for name, value in fields if name.lower() == "subject"), None)
    return header_values.field_text(subject) if subject is not None else ""


@frozen(kw_only=True)
class MessageSummary:
    """What the message list shows of a stored message, without its body."""

    id: UUID
    received_at: datetime
    mail_from: str
    message_id: str
    subject: str
    size: int
    # every recipient of the envelope, whichever account's: only ever shown filtered
    envelope_rcpt_to: tuple[str, ...] = field(repr=False)


@frozen(kw_only=True)
class AccountMessage:
    """A message as one account sees it: `deliveries` are that account's jobs only."""

    summary: MessageSummary
    deliveries: tuple[DeliveryJob, ...]

    @property
    def rcpt_to(self) -> list[str]:
        """The account's recipients of the message, in envelope order."""
        mine = {r for d in self.deliveries for r in d.recipients}
        return [r for r in dict.fromkeys(self.summary.envelope_rcpt_to) if r in mine]

    @property
    def status(self) -> MessageStatus:
        return status_of(self.deliveries)
