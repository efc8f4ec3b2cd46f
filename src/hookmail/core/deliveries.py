"""Deliveries: one job per message and webhook that takes it, and the logs - one row per
attempt, and one per message a policy refused."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID, uuid4

from attrs import evolve, frozen


class DeliveryStatus(StrEnum):
    DELIVERED = "delivered"
    RETRYING = "retrying"  # failed; another attempt is scheduled
    FAILED = "failed"  # failed for good
    REFUSED = "refused"  # a security policy refused the message; never sent


@frozen(kw_only=True)
class DeliveryLog:
    id: UUID
    webhook_id: UUID
    attempted_at: datetime
    duration_ms: int
    http_status: int  # 0 when no HTTP answer (refused by policy, timeout, connection error)
    error: str | None
    sender: str
    smtp_message_id: str
    attempt: int
    status: DeliveryStatus
    next_attempt_at: datetime | None = None
    # the stored delivery job this attempt belongs to; None for a refusal, an attempt whose
    # message was not stored (sync mode) and rows from before the column (retention, §6.7)
    job_id: UUID | None = None

    @classmethod
    def record(cls, **fields: object) -> DeliveryLog:
        return cls(id=uuid4(), **fields)  # type: ignore[arg-type]


class JobStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


@frozen(kw_only=True)
class DeliveryJob:
    """Deliver one message to one webhook. `attempts` counts the attempts made so far;
    `schedule_start` is how many had been made when the current retry schedule began (0, or
    the count at the last replay), so a replay starts the schedule afresh while attempt
    numbers continue. `created_at` is when the message was received."""

    id: UUID
    message_id: UUID
    webhook_id: UUID
    account_id: UUID  # the webhook's owner: who may see this delivery and its message
    recipients: tuple[str, ...]  # only this webhook's recipients: no tenant sees another's
    status: JobStatus = JobStatus.PENDING
    attempts: int = 0
    schedule_start: int = 0
    next_attempt_at: datetime
    claimed_until: datetime | None = None
    created_at: datetime

    @classmethod
    def new(
        cls,
        *,
        message_id: UUID,
        webhook_id: UUID,
        account_id: UUID,
        recipients: tuple[str, ...],
        now: datetime,
    ) -> DeliveryJob:
        return cls(
            id=uuid4(),
            message_id=message_id,
            webhook_id=webhook_id,
            account_id=account_id,
            recipients=recipients,
            next_attempt_at=now,
            created_at=now,
        )

    def replayed(self, now: datetime) -> DeliveryJob:
        """Queued again for an immediate attempt, with a fresh retry schedule; the same job,
        so the same `webhook-id`, and attempt numbers go on from where they were."""
        return evolve(
            self,
            status=JobStatus.PENDING,
            schedule_start=self.attempts,
            next_attempt_at=now,
            claimed_until=None,
        )

    @property
    def event_id(self) -> str:
        """The `webhook-id` header and payload `id`: stable across every retry of the job."""
        return f"msg_{self.id.hex}"
