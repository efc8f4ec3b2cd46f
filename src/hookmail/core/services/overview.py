"""The account's last 24 hours at a glance: messages and deliveries by status, attempts
per hour."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TypeVar
from uuid import UUID

from attrs import frozen

from hookmail.core.deliveries import DeliveryStatus, JobStatus
from hookmail.core.messages import MessageStatus, status_from
from hookmail.core.ports import Clock, UnitOfWork

HOURS = 24
E = TypeVar("E", bound=StrEnum)


@frozen
class Hour:
    start: datetime
    delivered: int
    failed: int  # failed attempts, retried or not


@frozen
class Overview:
    since: datetime
    messages: dict[MessageStatus, int]  # by the message's status
    deliveries: dict[JobStatus, int]  # by the delivery's status
    refused: int  # messages a security policy refused
    hours: list[Hour]  # oldest first


def overview(uow: UnitOfWork, clock: Clock, *, account_id: UUID) -> Overview:
    now = clock.now()
    # Whole hours, the current one last, so the chart's bars don't slide within an hour.
    since = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=HOURS - 1)
    with uow.reading():
        attempts = uow.activity.attempts_by_hour(account_id, since, HOURS)
        jobs = uow.activity.job_statuses(account_id, since)
    by_message: dict[UUID, list[JobStatus]] = {}
    for message_id, status in jobs:
        by_message.setdefault(message_id, []).append(status)
    failed = (DeliveryStatus.FAILED, DeliveryStatus.RETRYING)
    return Overview(
        since=since,
        messages=_all(Counter(status_from(s) for s in by_message.values()), MessageStatus),
        deliveries=_all(Counter(status for _, status in jobs), JobStatus),
        refused=sum(n for (_, status), n in attempts.items() if status == DeliveryStatus.REFUSED),
        hours=[
            Hour(
                start=since + timedelta(hours=i),
                delivered=attempts.get((i, DeliveryStatus.DELIVERED), 0),
                failed=sum(attempts.get((i, s), 0) for s in failed),
            )
            for i in range(HOURS)
        ],
    )


def _all(counts: Counter[E], kinds: type[E]) -> dict[E, int]:
    """Every status, zero or not, in the enum's order."""
    return {kind: counts.get(kind, 0) for kind in kinds}
