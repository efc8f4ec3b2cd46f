"""Delivery logs: one row per attempt, and one per message a policy refused."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID, uuid4

from attrs import frozen

from hookmail.core.errors import InvalidField

MAX_PAGE_SIZE = 100


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

    @classmethod
    def record(cls, **fields: object) -> DeliveryLog:
        return cls(id=uuid4(), **fields)  # type: ignore[arg-type]


@frozen
class Page:
    number: int
    size: int

    @classmethod
    def parse(cls, number: int | None, size: int | None) -> Page:
        number = 1 if number is None else number
        size = 20 if size is None else size
        if number < 1:
            raise InvalidField("page", "must be 1 or more")
        if not 1 <= size <= MAX_PAGE_SIZE:
            raise InvalidField("page_size", f"must be 1 to {MAX_PAGE_SIZE}")
        return cls(number, size)

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size
