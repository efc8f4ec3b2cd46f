"""Delivery logs: one row per attempt, and one per message a policy refused."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID, uuid4

from attrs import frozen


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
