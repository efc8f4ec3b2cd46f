"""SQL repositories of deliveries: the delivery jobs (the durable queue) and the delivery
logs (one row per attempt or refusal)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, cast
from uuid import UUID

import orjson
from sqlalchemy import (
    CursorResult,
    Table,
    delete,
    func,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.orm import Session

from hookmail.adapters.sql import raw
from hookmail.adapters.sql.mail import messages_from_rows, messages_query
from hookmail.adapters.sql.rows import DeliveryLogRow, JobRow, WebhookRow
from hookmail.adapters.sql.webhooks import webhooks_from_rows, webhooks_query
from hookmail.adapters.sql.writes import touch
from hookmail.core.deliveries import DeliveryJob, DeliveryLog, DeliveryStatus, JobStatus

_JOBS = cast(Table, JobRow.__table__)
_WEBHOOKS = cast(Table, WebhookRow.__table__)

# The store pass's statements (claim, record): plain SQL on the session's connection (raw.py).
_DUE = raw.Reader(*_JOBS.c, _WEBHOOKS.c.failing_since.label("webhook_failing_since"))
# what the claim reads of a due row before choosing it, by position in the row as stored
_DUE_ID, _DUE_WEBHOOK, _DUE_FAILING, _DUE_MESSAGE = map(
    _DUE.names.index, ("id", "webhook_id", "webhook_failing_since", "message_id")
)
_FROM_JOBS = "FROM delivery_jobs JOIN webhooks ON webhooks.id = delivery_jobs.webhook_id"
_LEASED_SQL = (
    "SELECT delivery_jobs.webhook_id, max(webhooks.failing_since), count(*) "
    f"{_FROM_JOBS} WHERE delivery_jobs.claimed_until >= ? AND delivery_jobs.status = ? "
    "GROUP BY delivery_jobs.webhook_id"
)
_SAVE_JOB_SQL = (
    "UPDATE delivery_jobs SET status = ?, attempts = ?, next_attempt_at = ?, claimed_until = ? "
    "WHERE id = ?"
)


def _typed(columns: tuple[tuple[str, str], ...]) -> str:
    """A record's column definitions, `name type, ...` (for json_to_recordset)."""
    return ", ".join(f"{name} {kind}" for name, kind in columns)


# The attempts of a store pass in one PostgreSQL statement: the jobs' new states, and the
# log rows of the jobs that were still there to update (a deleted webhook takes its jobs).
_LOG_COLUMNS = (
    ("id", "uuid"),
    ("webhook_id", "uuid"),
    ("attempted_at", "timestamptz"),
    ("duration_ms", "integer"),
    ("http_status", "integer"),
    ("error", "text"),
    ("sender", "text"),
    ("smtp_message_id", "text"),
    ("attempt", "integer"),
    ("status", "text"),
    ("next_attempt_at", "timestamptz"),
    ("job_id", "uuid"),
)
_JOB_STATE_COLUMNS = (
    ("id", "uuid"),
    ("status", "text"),
    ("attempts", "integer"),
    ("next_attempt_at", "timestamptz"),
    ("claimed_until", "timestamptz"),
)
_SAVE_ATTEMPTS_SQL = (
    "WITH kept AS (UPDATE delivery_jobs SET status = v.status, attempts = v.attempts, "  # noqa: S608
    "next_attempt_at = v.next_attempt_at, claimed_until = v.claimed_until "
    f"FROM json_to_recordset(?::json) AS v({_typed(_JOB_STATE_COLUMNS)}) "
    "WHERE delivery_jobs.id = v.id RETURNING delivery_jobs.id) "
    f"INSERT INTO delivery_logs ({', '.join(name for name, _ in _LOG_COLUMNS)}) "
    f"SELECT {', '.join(f'l.{name}' for name, _ in _LOG_COLUMNS)} "
    f"FROM json_to_recordset(?::json) AS l({_typed(_LOG_COLUMNS)}) "
    "WHERE l.job_id IN (SELECT id FROM kept)"
)


_JOB_STATE_NAMES = [name for name, _ in _JOB_STATE_COLUMNS]
_LOG_NAMES = [name for name, _ in _LOG_COLUMNS]


def _json_rows(rows: Iterable[tuple[Any, ...]], names: Sequence[str]) -> str:
    """Rows as a JSON array of objects, keyed by `names`, for json_to_recordset()."""
    return orjson.dumps([dict(zip(names, row, strict=True)) for row in rows]).decode()


def _log_values(codec: raw.Codec, log: DeliveryLog) -> tuple[Any, ...]:
    """A log row's values in _LOG_COLUMNS' order, as the driver takes them."""
    return (
        codec.uuid(log.id),
        codec.uuid(log.webhook_id),
        codec.when(log.attempted_at),
        log.duration_ms,
        log.http_status,
        log.error,
        log.sender,
        log.smtp_message_id,
        log.attempt,
        log.status.value,
        codec.when(log.next_attempt_at),
        codec.uuid(log.job_id),
    )


def _due_sql(codec: raw.Codec, full: list[Any], chosen: list[Any]) -> str:
    """Due jobs of active webhooks, oldest first, but those of `full` webhooks and those
    `chosen` already. SKIP LOCKED on PostgreSQL: workers on any number of machines share
    the queue without waiting on each other; SQLite serialises writers (BEGIN IMMEDIATE)."""
    conditions = [
        "delivery_jobs.status = ?",
        "delivery_jobs.next_attempt_at <= ?",
        "(delivery_jobs.claimed_until IS NULL OR delivery_jobs.claimed_until < ?)",
        f"webhooks.active IS {codec.true}",
    ]
    if full:
        conditions.append(codec.among("delivery_jobs.webhook_id", full, negate=True))
    if chosen:
        conditions.append(codec.among("delivery_jobs.id", chosen, negate=True))
    return (
        f"SELECT {_DUE.sql} {_FROM_JOBS} WHERE {' AND '.join(conditions)} "
        f"ORDER BY delivery_jobs.next_attempt_at LIMIT ?{codec.skip_locked}"
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
            # an executemany on the accept path (the SMTP worker's group commit); write_many
            # says that jobs were inserted (a "jobs" notice at commit)
            codec = raw.codec(self._session)
            raw.write_many(
                self._session,
                "delivery_jobs",
                "insert",
                _INSERT_JOB_SQL,
                [
                    (
                        codec.uuid(job.id),
                        codec.uuid(job.message_id),
                        codec.uuid(job.webhook_id),
                        codec.uuid(job.account_id),
                        json.dumps(list(job.recipients)),
                        job.status.value,
                        job.attempts,
                        job.schedule_start,
                        codec.when(job.next_attempt_at),
                        codec.when(job.claimed_until),
                        codec.when(job.created_at),
                    )
                    for job in jobs
                ],
            )

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
        held: Mapping[UUID, int] | None = None,
    ) -> list[DeliveryJob]:
        # Fair share: webhooks that have their share of jobs in flight (`held`, the
        # caller's; without it, those under any worker's live lease) are left out, so one
        # slow target's backlog never fills a worker; a failing webhook's share is smaller.
        failing_share = per_webhook if per_failing_webhook is None else per_failing_webhook
        codec = raw.codec(self._session)
        at, pending = codec.when(now), JobStatus.PENDING.value
        # webhooks and jobs are counted by their ids as stored: only the chosen are decoded
        busy: dict[Any, int] = {}
        full: list[Any] = []
        if held is not None:  # a failing one's smaller share is checked on its due rows
            busy = {codec.uuid(webhook): count for webhook, count in held.items() if count}
            full = [webhook for webhook, count in busy.items() if count >= per_webhook]
        else:
            leased = raw.fetch(self._session, _LEASED_SQL, (at, pending))
            for webhook, failing, count in leased:
                busy[webhook] = count
                if count >= (failing_share if failing else per_webhook):
                    full.append(webhook)
        chosen: list[Any] = []
        for _round in range(4):  # a round ends early when one webhook's backlog fills it
            wanted = limit - len(chosen)
            taken = [row[_DUE_ID] for row in chosen]
            rows = raw.fetch(
                self._session,
                _due_sql(codec, full, taken),
                [
                    pending,
                    at,
                    at,
                    *(codec.params_among(full) if full else ()),
                    *(codec.params_among(taken) if taken else ()),
                    wanted + 4,
                ],
            )
            for row in rows:
                if len(chosen) >= limit:
                    break
                webhook = row[_DUE_WEBHOOK]
                cap = failing_share if row[_DUE_FAILING] else per_webhook
                if busy.get(webhook, 0) >= cap:
                    if webhook not in full:
                        full.append(webhook)
                    continue
                busy[webhook] = busy.get(webhook, 0) + 1
                chosen.append(row)
            if len(chosen) >= limit or len(rows) < wanted + 4:
                break
        if not chosen:
            return []
        ids = [row[_DUE_ID] for row in chosen]
        raw.write(
            self._session,
            "delivery_jobs",
            "change",
            f"UPDATE delivery_jobs SET claimed_until = ? WHERE {codec.among('id', ids)}",  # noqa: S608
            [codec.when(lease_until), *codec.params_among(ids)],
        )
        if raw.postgres(self._session):
            self._read_ahead(chosen)
        return [
            _job_from_row(row._replace(claimed_until=lease_until))
            for row in _DUE.decode(codec, chosen)
        ]

    def _read_ahead(self, chosen: list[Any]) -> None:
        """PostgreSQL: the messages and webhooks of the claimed jobs, which the claim's
        caller reads next (delivery._claim), read now, with the claim's UPDATE: one round
        trip where there were three (a store pass is then three: the due rows, this, the
        commit). Read in the claim's transaction, as they would have been."""
        codec = raw.codec(self._session)
        messages = list({row[_DUE_MESSAGE] for row in chosen})
        webhooks = list({row[_DUE_WEBHOOK] for row in chosen})
        found_messages, found_webhooks = raw.fetch_together(
            self._session,
            [messages_query(codec, messages), webhooks_query(codec, webhooks)],
        )
        raw.read_ahead(self._session, "messages", messages_from_rows(codec, found_messages))
        raw.read_ahead(self._session, "webhooks", webhooks_from_rows(codec, found_webhooks))

    def existing(self, job_ids: set[UUID]) -> set[UUID]:
        if not job_ids:
            return set()
        codec = raw.codec(self._session)
        asked = {codec.uuid(i): i for i in job_ids}  # stored form -> id
        found = raw.fetch(
            self._session,
            f"SELECT id FROM delivery_jobs WHERE {codec.among('id', list(asked))}",  # noqa: S608
            codec.params_among(list(asked)),
        )
        return {asked[stored] for (stored,) in found}

    def save_many(self, jobs: list[DeliveryJob]) -> None:
        if jobs:  # an executemany: one statement for the whole batch
            codec = raw.codec(self._session)
            raw.write_many(
                self._session,
                "delivery_jobs",
                "change",
                _SAVE_JOB_SQL,
                [
                    (
                        job.status.value,
                        job.attempts,
                        codec.when(job.next_attempt_at),
                        codec.when(job.claimed_until),
                        codec.uuid(job.id),
                    )
                    for job in jobs
                ],
            )

    def save_attempts(self, jobs: list[DeliveryJob], logs: list[DeliveryLog]) -> None:
        if not jobs and not logs:
            return
        if not raw.postgres(self._session):  # SQLite: statements cost no round trip
            alive = self.existing({job.id for job in jobs})
            SqlDeliveryLogRepository(self._session).add_many(
                [log for log in logs if log.job_id in alive]
            )
            self.save_many([job for job in jobs if job.id in alive])
            return
        # PostgreSQL: one statement, kept back and sent with the pass's next one; its text
        # is the same for any number of attempts, so the server plans it once. The rows go
        # as two JSON texts (orjson): psycopg dumps an array parameter element by element in
        # Python, and sixteen of them were a fifth of a pass's CPU.
        codec = raw.codec(self._session)
        states = [
            (job.id, job.status.value, job.attempts, job.next_attempt_at, job.claimed_until)
            for job in jobs
        ]
        raw.write(
            self._session,
            "delivery_jobs",
            "change",
            _SAVE_ATTEMPTS_SQL,
            [
                _json_rows(states, _JOB_STATE_NAMES),
                _json_rows([_log_values(codec, log) for log in logs], _LOG_NAMES),
            ],
        )
        touch(self._session, "delivery_logs", "insert")

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


_INSERT_LOG_SQL = (
    f"INSERT INTO delivery_logs ({', '.join(name for name, _ in _LOG_COLUMNS)}) "  # noqa: S608
    f"VALUES ({', '.join('?' * len(_LOG_COLUMNS))})"
)
_INSERT_JOB_SQL = (
    "INSERT INTO delivery_jobs (id, message_id, webhook_id, account_id, recipients, status, "
    "attempts, schedule_start, next_attempt_at, claimed_until, created_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


class SqlDeliveryLogRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, log: DeliveryLog) -> None:
        self.add_many([log])

    def add_many(self, logs: list[DeliveryLog]) -> None:
        if logs:  # an executemany: recording attempts is on the delivery hot path
            codec = raw.codec(self._session)
            raw.write_many(
                self._session,
                "delivery_logs",
                "insert",
                _INSERT_LOG_SQL,
                [_log_values(codec, log) for log in logs],
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
