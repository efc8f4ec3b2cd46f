"""SQL repositories of inbound messages and delivery jobs (the durable queue)."""

from __future__ import annotations

import json
from datetime import datetime
from uuid import UUID

from attrs import evolve
from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.orm import Session

from hookmail.adapters.sql.rows import JobRow, MessageRow
from hookmail.core.mail import (
    AuthResults,
    DeliveryJob,
    DkimResult,
    Envelope,
    InboundMessage,
    JobStatus,
    SpfOutcome,
)


def _auth_json(auth: AuthResults) -> str:
    spf = auth.spf
    return json.dumps(
        {
            "spf": [spf.result, spf.domain, spf.explanation] if spf else None,
            "dkim": [[d.domain, d.result] for d in auth.dkim],
        }
    )


def _auth(raw: str) -> AuthResults:
    data = json.loads(raw)
    spf = SpfOutcome(*data["spf"]) if data["spf"] else None
    return AuthResults(spf=spf, dkim=tuple(DkimResult(d, r) for d, r in data["dkim"]))


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


def _message(row: MessageRow) -> InboundMessage:
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
        auth=_auth(row.auth),
        raw=row.raw,
        message_id=row.message_id,
    )


class SqlMessageRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, message: InboundMessage) -> None:
        self.add_many([message])

    def add_many(self, messages: list[InboundMessage]) -> None:
        if messages:  # Core executemany: no ORM unit of work on the accept path
            self._session.execute(insert(MessageRow), [_message_values(m) for m in messages])

    def get(self, message_id: UUID) -> InboundMessage | None:
        row = self._session.get(MessageRow, message_id)
        return _message(row) if row else None

    def get_many(self, message_ids: set[UUID]) -> dict[UUID, InboundMessage]:
        if not message_ids:
            return {}
        rows = self._session.scalars(select(MessageRow).where(MessageRow.id.in_(message_ids)))
        return {row.id: _message(row) for row in rows}


def _job(row: JobRow) -> DeliveryJob:
    return DeliveryJob(
        id=row.id,
        message_id=row.message_id,
        webhook_id=row.webhook_id,
        recipients=tuple(json.loads(row.recipients)),
        status=JobStatus(row.status),
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        claimed_until=row.claimed_until,
        created_at=row.created_at,
    )


def _job_values(job: DeliveryJob) -> dict[str, object]:
    return {
        "id": job.id,
        "message_id": job.message_id,
        "webhook_id": job.webhook_id,
        "recipients": json.dumps(list(job.recipients)),
        "status": job.status.value,
        "attempts": job.attempts,
        "next_attempt_at": job.next_attempt_at,
        "claimed_until": job.claimed_until,
        "created_at": job.created_at,
    }


def _job_row(job: DeliveryJob) -> JobRow:
    return JobRow(
        id=job.id,
        message_id=job.message_id,
        webhook_id=job.webhook_id,
        recipients=json.dumps(list(job.recipients)),
        status=job.status.value,
        attempts=job.attempts,
        next_attempt_at=job.next_attempt_at,
        claimed_until=job.claimed_until,
        created_at=job.created_at,
    )


class SqlJobRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, job: DeliveryJob) -> None:
        self.add_many([job])

    def add_many(self, jobs: list[DeliveryJob]) -> None:
        if jobs:
            self._session.execute(insert(JobRow), [_job_values(j) for j in jobs])

    def get(self, job_id: UUID) -> DeliveryJob | None:
        row = self._session.get(JobRow, job_id)
        return _job(row) if row else None

    def save(self, job: DeliveryJob) -> None:
        self._session.merge(_job_row(job))  # flushed with the others at commit

    def claim_due(self, now: datetime, *, limit: int, lease_until: datetime) -> list[DeliveryJob]:
        # SKIP LOCKED on PostgreSQL: workers on any number of machines share the queue
        # without waiting on each other; SQLite serialises writers (BEGIN IMMEDIATE).
        rows = list(
            self._session.scalars(
                select(JobRow)
                .where(
                    JobRow.status == JobStatus.PENDING.value,
                    JobRow.next_attempt_at <= now,
                    or_(JobRow.claimed_until.is_(None), JobRow.claimed_until < now),
                )
                .order_by(JobRow.next_attempt_at)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        )
        if rows:
            self._session.execute(
                update(JobRow)
                .where(JobRow.id.in_([r.id for r in rows]))
                .values(claimed_until=lease_until)
                .execution_options(synchronize_session=False)
            )
        return [evolve(_job(r), claimed_until=lease_until) for r in rows]

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
