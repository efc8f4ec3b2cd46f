"""SQL repositories of inbound messages and delivery jobs (the durable queue)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, cast
from uuid import UUID

import attrs
from attrs import evolve
from sqlalchemy import (
    ColumnElement,
    CursorResult,
    Exists,
    Select,
    Table,
    bindparam,
    delete,
    func,
    insert,
    literal_column,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.orm import Session, aliased

from hookmail.adapters.sql.rows import DeliveryLogRow, JobRow, MessageRow, WebhookRow
from hookmail.adapters.sql.writes import touch
from hookmail.core.deliveries import DeliveryJob, JobStatus
from hookmail.core.mail import (
    AuthResults,
    DkimResult,
    DmarcOutcome,
    Envelope,
    InboundMessage,
    SpfOutcome,
)
from hookmail.core.messages import HEAD_BYTES, MessageStatus, MessageSummary, subject_of


def _auth_json(auth: AuthResults) -> str:
    spf = auth.spf
    return json.dumps(
        {
            "spf": [spf.result, spf.domain, spf.explanation] if spf else None,
            "dkim": [[d.domain, d.result] for d in auth.dkim],
            "dmarc": attrs.astuple(auth.dmarc) if auth.dmarc else None,
        }
    )


def _auth_from_json(raw: str) -> AuthResults:
    data = json.loads(raw)
    spf = SpfOutcome(*data["spf"]) if data["spf"] else None
    dmarc = DmarcOutcome(*data["dmarc"]) if data.get("dmarc") else None
    return AuthResults(spf=spf, dkim=tuple(DkimResult(d, r) for d, r in data["dkim"]), dmarc=dmarc)


def _message_values(message: InboundMessage) -> dict[str, object]:
    envelope = message.envelope
    return {
        "id": message.id,
        "received_at": message.received_at,
        "mail_from": envelope.mail_from,
        "rcpt_to": json.dumps(list(envelope.rcpt_to)),
        "remote_ip": envelope.remote_ip,
        "helo": envelope.helo,
        "smtp_user": envelope.smtp_user,
        "auth": _auth_json(message.auth),
        "message_id": message.message_id,
        "raw": message.raw,
    }


def _message_from_row(row: MessageRow) -> InboundMessage:
    envelope = Envelope(
        mail_from=row.mail_from,
        rcpt_to=tuple(json.loads(row.rcpt_to)),
        remote_ip=row.remote_ip,
        helo=row.helo,
        smtp_user=row.smtp_user,
    )
    return InboundMessage(
        id=row.id,
        received_at=row.received_at,
        envelope=envelope,
        auth=_auth_from_json(row.auth),
        raw=row.raw,
        message_id=row.message_id,
    )


_MESSAGES = cast(Table, MessageRow.__table__)
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
_INSERT_MESSAGE = insert(_MESSAGES)
_INSERT_JOB = insert(_JOBS)
_MESSAGES_BY_ID = select(*_MESSAGES.c).where(_MESSAGES.c.id.in_(bindparam("ids", expanding=True)))
_EXISTING = select(_JOBS.c.id).where(_JOBS.c.id.in_(bindparam("ids", expanding=True)))
_LEASE = (
    update(_JOBS)
    .where(_JOBS.c.id.in_(bindparam("ids", expanding=True)))
    .values(claimed_until=bindparam("lease_until"))
)


class SqlMessageRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, message: InboundMessage) -> None:
        self.add_many([message])

    def add_many(self, messages: list[InboundMessage]) -> None:
        if messages:  # Core executemany: no ORM unit of work on the accept path
            # on the connection: a Core executemany, not the ORM's bulk-insert machinery
            self._session.connection().execute(
                _INSERT_MESSAGE, [_message_values(m) for m in messages]
            )

    def get(self, message_id: UUID) -> InboundMessage | None:
        row = self._session.get(MessageRow, message_id)
        return _message_from_row(row) if row else None

    def get_many(self, message_ids: set[UUID]) -> dict[UUID, InboundMessage]:
        if not message_ids:
            return {}
        # plain rows, not ORM entities, from a statement built once: the claim reads these
        rows = self._session.execute(_MESSAGES_BY_ID, {"ids": list(message_ids)})
        return {row.id: _message_from_row(cast(MessageRow, row)) for row in rows}

    def page_of_account(
        self,
        account_id: UUID,
        *,
        webhook_id: UUID | None,
        status: MessageStatus | None,
        offset: int,
        limit: int,
    ) -> list[UUID]:
        # Walks ix_delivery_jobs_account_created (or _webhook_created) backwards and stops
        # after offset + limit rows: no sort, no count. A status filter checks each row's
        # sibling jobs through ix_delivery_jobs_message_id.
        query = select(JobRow.message_id, JobRow.created_at).where(JobRow.account_id == account_id)
        if webhook_id is not None:
            query = query.where(JobRow.webhook_id == webhook_id)
        if status is not None:
            query = query.where(*_status_is(status, account_id, by_webhook=webhook_id is not None))
        if webhook_id is None:
            query = query.distinct()  # two webhooks of one account may share a message
        rows = self._session.execute(
            query.order_by(JobRow.created_at.desc(), JobRow.message_id.desc())
            .offset(offset)
            .limit(limit)
        )
        return [row.message_id for row in rows]

    def summaries(self, message_ids: set[UUID]) -> dict[UUID, MessageSummary]:
        if not message_ids:
            return {}
        rows = self._session.execute(
            select(
                MessageRow.id,
                MessageRow.received_at,
                MessageRow.mail_from,
                MessageRow.rcpt_to,
                MessageRow.message_id,
                func.length(MessageRow.raw).label("size"),
                func.substr(MessageRow.raw, 1, HEAD_BYTES).label("head"),
            ).where(MessageRow.id.in_(message_ids))
        )
        return {
            row.id: MessageSummary(
                id=row.id,
                received_at=row.received_at,
                mail_from=row.mail_from,
                envelope_rcpt_to=tuple(json.loads(row.rcpt_to)),
                message_id=row.message_id,
                subject=subject_of(bytes(row.head)),
                size=int(row.size),
            )
            for row in rows
        }

    def remove_expired(self, received_before: datetime, *, limit: int) -> int:
        # Oldest first through ix_messages_received_at; the pending check probes
        # ix_delivery_jobs_message_id. SKIP LOCKED: another sweeper's batch is left to it.
        status: ColumnElement[str] = _JOBS.c.status
        if self._session.get_bind().dialect.name == "sqlite":
            # SQLite (without ANALYZE statistics) would probe by status through
            # ix_delivery_jobs_claimed, reading every pending job for each message; a unary
            # plus keeps that index out (https://sqlite.org/optoverview.html#disqualifying_where_clause_terms_using_unary_)
            status = literal_column("+delivery_jobs.status")
        pending = (
            select(_JOBS.c.id)
            .where(_JOBS.c.message_id == _MESSAGES.c.id, status == JobStatus.PENDING.value)
            .exists()
        )
        found = list(
            self._session.scalars(
                select(_MESSAGES.c.id)
                .where(_MESSAGES.c.received_at < received_before, ~pending)
                .order_by(_MESSAGES.c.received_at)
                .limit(limit)
                .with_for_update(skip_locked=True, of=_MESSAGES)
            )
        )
        if not found:
            return 0
        # Lock the jobs and read their status again: a replay that queued one of them since
        # (PostgreSQL; SQLite has one writer) keeps its message; one that comes after waits
        # for this transaction and finds nothing to queue.
        jobs = self._session.execute(
            select(_JOBS.c.id, _JOBS.c.message_id, _JOBS.c.status)
            .where(_JOBS.c.message_id.in_(found))
            .with_for_update(of=_JOBS)
        ).all()
        kept = {j.message_id for j in jobs if j.status == JobStatus.PENDING.value}
        doomed = [m for m in found if m not in kept]
        job_ids = [j.id for j in jobs if j.message_id not in kept]
        logs = cast(Table, DeliveryLogRow.__table__)
        if job_ids:
            self._session.execute(delete(logs).where(logs.c.job_id.in_(job_ids)))
            self._session.execute(delete(_JOBS).where(_JOBS.c.id.in_(job_ids)))
        if doomed:
            self._session.execute(delete(_MESSAGES).where(_MESSAGES.c.id.in_(doomed)))
        return len(doomed)


def _sibling(account_id: UUID, statuses: tuple[JobStatus, ...]) -> Exists:
    """Another job of the same message and account in one of `statuses`."""
    other = aliased(JobRow)
    return (
        select(other.id)
        .where(
            other.message_id == JobRow.message_id,
            other.account_id == account_id,
            other.status.in_([s.value for s in statuses]),
        )
        .exists()
    )


def _messages_with(account_id: UUID, status: JobStatus) -> Select[UUID]:
    """The messages with a job of the account in `status`: a set built once per query from
    the status index (pending and failed jobs are the few), not a probe per row."""
    other = aliased(JobRow)
    return select(other.message_id).where(
        other.account_id == account_id, other.status == status.value
    )


def _status_is(
    status: MessageStatus, account_id: UUID, *, by_webhook: bool
) -> list[ColumnElement[bool]]:
    """A message's status as the account sees it, as conditions on one of its jobs. Over all
    the account's jobs the job itself can carry the status (a pending job makes its message
    pending), which lets the planner start from the status; over one webhook's jobs the
    others decide too."""
    pending, failed, delivered = JobStatus.PENDING, JobStatus.FAILED, JobStatus.DELIVERED
    if status is MessageStatus.PENDING:
        if by_webhook:
            return [JobRow.message_id.in_(_messages_with(account_id, pending))]
        return [JobRow.status == pending.value]
    if status is MessageStatus.FAILED:
        found = [~_sibling(account_id, (pending,))]
        if by_webhook:
            return [JobRow.message_id.in_(_messages_with(account_id, failed)), *found]
        return [JobRow.status == failed.value, *found]
    found = [~_sibling(account_id, (pending, failed))]
    return found if by_webhook else [JobRow.status == delivered.value, *found]


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
            self._session.connection().execute(_INSERT_JOB, [_job_values(j) for j in jobs])
            touch(self._session, "delivery_jobs", "insert")  # a "jobs" notice at commit

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
