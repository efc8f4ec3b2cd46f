"""SQL repositories of deliveries: the delivery jobs (the durable queue) and the delivery
logs (one row per attempt or refusal)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, cast
from uuid import UUID

from attrs import evolve
from sqlalchemy import (
    CursorResult,
    Table,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.orm import Session

from hookmail.adapters.sql.rows import DeliveryLogRow, JobRow, WebhookRow
from hookmail.adapters.sql.writes import touch
from hookmail.core.deliveries import DeliveryJob, DeliveryLog, DeliveryStatus, JobStatus

_JOBS = cast(Table, JobRow.__table__)
_WEBHOOKS = cast(Table, WebhookRow.__table__)
_SAVE_JOB = (
    update(_JOBS)
    .where(_JOBS.c.id == bindparam("job_id"))
    .values(
        status=bindparam("status"),
        attempts=bindparam("attempts"),
        next_attempt_at=bindparam("next_attempt_at"),
        claimed_until=bindparam("claimed_until"),
    )
)


# The claim's statements, built once (building a statement costs more than running it).
_LEASED = (
    select(_JOBS.c.webhook_id, func.max(_WEBHOOKS.c.failing_since), func.count())
    .join(_WEBHOOKS, _WEBHOOKS.c.id == _JOBS.c.webhook_id)
    .where(
        _JOBS.c.claimed_until >= bindparam("now"),
        _JOBS.c.status == JobStatus.PENDING.value,
    )
    .group_by(_JOBS.c.webhook_id)
)
_DUE = (
    select(*_JOBS.c, _WEBHOOKS.c.failing_since.label("webhook_failing_since"))
    .join(_WEBHOOKS, _WEBHOOKS.c.id == _JOBS.c.webhook_id)
    .where(
        _JOBS.c.status == JobStatus.PENDING.value,
        _JOBS.c.next_attempt_at <= bindparam("now"),
        or_(_JOBS.c.claimed_until.is_(None), _JOBS.c.claimed_until < bindparam("now")),
        _WEBHOOKS.c.active.is_(True),
        _JOBS.c.webhook_id.not_in(bindparam("full", expanding=True)),
        _JOBS.c.id.not_in(bindparam("chosen", expanding=True)),
    )
    .order_by(_JOBS.c.next_attempt_at)
    .limit(bindparam("rows"))
    # SKIP LOCKED on PostgreSQL: workers on any number of machines share the queue
    # without waiting on each other; SQLite serialises writers (BEGIN IMMEDIATE).
    .with_for_update(skip_locked=True, of=_JOBS)
)
_EXISTING = select(_JOBS.c.id).where(_JOBS.c.id.in_(bindparam("ids", expanding=True)))
_LEASE = (
    update(_JOBS)
    .where(_JOBS.c.id.in_(bindparam("ids", expanding=True)))
    .values(claimed_until=bindparam("lease_until"))
)


def _job_from_row(row: JobRow) -> DeliveryJob:
    return DeliveryJob(
        id=row.id,
        message_id=row.message_id,
        webhook_id=row.webhook_id,
        account_id=row.account_id,
        recipients=tuple(json.loads(row.recipients)),
        status=JobStatus(row.status),
        attempts=row.attempts,
        schedule_start=row.schedule_start,
        next_attempt_at=row.next_attempt_at,
        claimed_until=row.claimed_until,
        created_at=row.created_at,
    )


def _job_values(job: DeliveryJob) -> dict[str, object]:
    return {
        "id": job.id,
        "message_id": job.message_id,
        "webhook_id": job.webhook_id,
        "account_id": job.account_id,
        "recipients": json.dumps(list(job.recipients)),
        "status": job.status.value,
        "attempts": job.attempts,
        "schedule_start": job.schedule_start,
        "next_attempt_at": job.next_attempt_at,
        "claimed_until": job.claimed_until,
        "created_at": job.created_at,
    }


class SqlJobRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, job: DeliveryJob) -> None:
        self.add_many([job])

    def add_many(self, jobs: list[DeliveryJob]) -> None:
        if jobs:
            # on the connection: a Core executemany, not the ORM's bulk-insert machinery; so
            # it says itself that jobs were inserted (a "jobs" notice at commit)
            self._session.connection().execute(_INSERT_JOB, [_job_values(j) for j in jobs])
            touch(self._session, "delivery_jobs", "insert")

    def get(self, job_id: UUID) -> DeliveryJob | None:
        row = self._session.get(JobRow, job_id)
        return _job_from_row(row) if row else None

    def save(self, job: DeliveryJob) -> None:
        self._session.merge(JobRow(**_job_values(job)))  # flushed with the others at commit

    def claim_due(
        self,
        now: datetime,
        *,
        limit: int,
        lease_until: datetime,
        per_webhook: int,
        per_failing_webhook: int | None = None,
    ) -> list[DeliveryJob]:
        # Fair share: webhooks that have their share of jobs under a live lease (this
        # worker's or another's) are left out, so one slow target's backlog never fills
        # the workers; a failing webhook's share is smaller.
        failing_share = per_webhook if per_failing_webhook is None else per_failing_webhook
        busy: dict[UUID, int] = {}
        share: dict[UUID, int] = {}
        for webhook, failing, count in self._session.execute(_LEASED, {"now": now}):
            busy[webhook] = count
            share[webhook] = failing_share if failing else per_webhook
        full = {webhook for webhook, count in busy.items() if count >= share[webhook]}
        chosen: list[Any] = []
        for _round in range(4):  # a round ends early when one webhook's backlog fills it
            wanted = limit - len(chosen)
            rows = list(
                self._session.execute(
                    _DUE,
                    {
                        "now": now,
                        "full": list(full),
                        "chosen": [r.id for r in chosen],
                        "rows": wanted + 4,
                    },
                )
            )
            for row in rows:
                if len(chosen) >= limit:
                    break
                cap = failing_share if row.webhook_failing_since else per_webhook
                if busy.get(row.webhook_id, 0) >= cap:
                    full.add(row.webhook_id)
                    continue
                busy[row.webhook_id] = busy.get(row.webhook_id, 0) + 1
                chosen.append(row)
            if len(chosen) >= limit or len(rows) < wanted + 4:
                break
        if chosen:
            self._session.execute(
                _LEASE, {"ids": [r.id for r in chosen], "lease_until": lease_until}
            )
        return [evolve(_job_from_row(cast(JobRow, r)), claimed_until=lease_until) for r in chosen]

    def existing(self, job_ids: set[UUID]) -> set[UUID]:
        if not job_ids:
            return set()
        return set(self._session.scalars(_EXISTING, {"ids": list(job_ids)}))

    def save_many(self, jobs: list[DeliveryJob]) -> None:
        if jobs:  # Core executemany: one statement for the whole batch
            self._session.connection().execute(
                _SAVE_JOB,
                [
                    {
                        "job_id": job.id,
                        "status": job.status.value,
                        "attempts": job.attempts,
                        "next_attempt_at": job.next_attempt_at,
                        "claimed_until": job.claimed_until,
                    }
                    for job in jobs
                ],
            )

    def release(self, job_ids: set[UUID]) -> None:
        if job_ids:
            self._session.execute(
                update(_JOBS).where(_JOBS.c.id.in_(job_ids)).values(claimed_until=None)
            )

    def in_flight(self, webhook_id: UUID, now: datetime) -> list[UUID]:
        return list(
            self._session.scalars(
                select(JobRow.id).where(
                    JobRow.webhook_id == webhook_id,
                    JobRow.status == JobStatus.PENDING.value,
                    JobRow.claimed_until > now,
                )
            )
        )

    def pending(self) -> int:
        count = self._session.scalar(
            select(func.count()).select_from(JobRow).where(JobRow.status == JobStatus.PENDING.value)
        )
        return int(count or 0)

    def of_messages(self, account_id: UUID, message_ids: set[UUID]) -> list[DeliveryJob]:
        if not message_ids:
            return []
        rows = self._session.scalars(
            select(JobRow)
            .where(JobRow.message_id.in_(message_ids), JobRow.account_id == account_id)
            .order_by(JobRow.created_at, JobRow.id)
        )
        return [_job_from_row(r) for r in rows]

    def replayable(
        self,
        webhook_id: UUID,
        *,
        since: datetime,
        until: datetime,
        statuses: frozenset[JobStatus],
        after: tuple[datetime, UUID] | None,
        limit: int,
    ) -> list[DeliveryJob]:
        query = select(JobRow).where(
            JobRow.webhook_id == webhook_id,
            JobRow.created_at >= since,
            JobRow.created_at <= until,
            JobRow.status.in_(sorted(s.value for s in statuses)),
        )
        if after is not None:
            query = query.where(tuple_(JobRow.created_at, JobRow.id) > tuple_(*after))
        rows = self._session.scalars(query.order_by(JobRow.created_at, JobRow.id).limit(limit))
        return [_job_from_row(r) for r in rows]

    def requeue(self, job_ids: list[UUID], *, now: datetime) -> int:
        if not job_ids:
            return 0
        result = self._session.execute(
            update(JobRow)
            .where(JobRow.id.in_(job_ids), JobRow.status != JobStatus.PENDING.value)
            .values(
                status=JobStatus.PENDING.value,
                schedule_start=JobRow.attempts,
                next_attempt_at=now,
                claimed_until=None,
            )
            .execution_options(synchronize_session=False)
        )
        return int(cast(CursorResult[Any], result).rowcount)


def delivery_log_from_row(row: DeliveryLogRow) -> DeliveryLog:
    return DeliveryLog(
        id=row.id,
        webhook_id=row.webhook_id,
        attempted_at=row.attempted_at,
        duration_ms=row.duration_ms,
        http_status=row.http_status,
        error=row.error,
        sender=row.sender,
        smtp_message_id=row.smtp_message_id,
        attempt=row.attempt,
        status=DeliveryStatus(row.status),
        next_attempt_at=row.next_attempt_at,
        job_id=row.job_id,
    )


_INSERT_LOG = insert(cast(Table, DeliveryLogRow.__table__))
_INSERT_JOB = insert(cast(Table, JobRow.__table__))


def _delivery_log_values(log: DeliveryLog) -> dict[str, object]:
    return {
        "id": log.id,
        "webhook_id": log.webhook_id,
        "attempted_at": log.attempted_at,
        "duration_ms": log.duration_ms,
        "http_status": log.http_status,
        "error": log.error,
        "sender": log.sender,
        "smtp_message_id": log.smtp_message_id,
        "attempt": log.attempt,
        "status": log.status.value,
        "next_attempt_at": log.next_attempt_at,
        "job_id": log.job_id,
    }


class SqlDeliveryLogRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, log: DeliveryLog) -> None:
        self.add_many([log])

    def add_many(self, logs: list[DeliveryLog]) -> None:
        if logs:  # Core executemany: recording attempts is on the delivery hot path
            # on the connection: a Core executemany, not the ORM's bulk-insert machinery
            self._session.connection().execute(
                _INSERT_LOG, [_delivery_log_values(log) for log in logs]
            )

    def get(self, webhook_id: UUID, log_id: UUID) -> DeliveryLog | None:
        row = self._session.get(DeliveryLogRow, log_id)
        return (
            delivery_log_from_row(row) if row is not None and row.webhook_id == webhook_id else None
        )

    def of_webhook(self, webhook_id: UUID, *, offset: int, limit: int) -> list[DeliveryLog]:
        rows = self._session.scalars(
            select(DeliveryLogRow)
            .where(DeliveryLogRow.webhook_id == webhook_id)
            .order_by(DeliveryLogRow.attempted_at.desc(), DeliveryLogRow.id.desc())
            .offset(offset)
            .limit(limit)
        )
        return [delivery_log_from_row(r) for r in rows]

    def remove_unlinked(self, attempted_before: datetime, *, limit: int) -> int:
        logs = cast(Table, DeliveryLogRow.__table__)
        jobs = cast(Table, JobRow.__table__)
        owner = (  # a pending job of the row's webhook from before the row: maybe its own
            select(jobs.c.id)
            .where(
                jobs.c.webhook_id == logs.c.webhook_id,
                jobs.c.status == JobStatus.PENDING.value,
                jobs.c.created_at <= logs.c.attempted_at,
            )
            .exists()
        )
        found = list(
            self._session.scalars(  # ix_delivery_logs_job_attempted: (NULL, oldest) first
                select(logs.c.id)
                .where(
                    logs.c.job_id.is_(None),
                    logs.c.attempted_at < attempted_before,
                    or_(logs.c.status == DeliveryStatus.REFUSED.value, ~owner),
                )
                .order_by(logs.c.attempted_at)
                .limit(limit)
                .with_for_update(skip_locked=True, of=logs)
            )
        )
        if found:
            self._session.execute(delete(logs).where(logs.c.id.in_(found)))
        return len(found)

    def attempts_since(self, webhook_id: UUID, since: datetime) -> list[datetime]:
        return list(
            self._session.scalars(
                select(DeliveryLogRow.attempted_at)
                .where(
                    DeliveryLogRow.webhook_id == webhook_id,
                    DeliveryLogRow.attempted_at > since,
                    DeliveryLogRow.status != DeliveryStatus.REFUSED.value,
                )
                .order_by(DeliveryLogRow.attempted_at)
            )
        )
