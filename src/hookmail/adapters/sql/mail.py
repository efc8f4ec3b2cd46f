"""SQL repository of inbound messages: stored once, listed by status, swept by age."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, cast
from uuid import UUID

import attrs
from sqlalchemy import (
    ColumnElement,
    Exists,
    Select,
    Table,
    delete,
    func,
    literal_column,
    select,
)
from sqlalchemy.orm import Session, aliased

from hookmail.adapters.sql import raw
from hookmail.adapters.sql.rows import DeliveryLogRow, JobRow, MessageRow
from hookmail.core.deliveries import JobStatus
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
_MESSAGE = raw.Reader(*_MESSAGES.c)  # the claim reads these: plain SQL (raw.py)


def messages_query(codec: raw.Codec, ids: list[object]) -> tuple[str, list[object]]:
    """The query of get_many: the messages of `ids` (as stored); its rows go to
    messages_from_rows."""
    return (
        f"SELECT {_MESSAGE.sql} FROM messages WHERE {codec.among('messages.id', ids)}",  # noqa: S608
        codec.params_among(ids),
    )


def messages_from_rows(codec: raw.Codec, rows: list[Any]) -> dict[UUID, InboundMessage]:
    return {
        row.id: _message_from_row(cast(MessageRow, row)) for row in _MESSAGE.decode(codec, rows)
    }


_INSERT_MESSAGE_SQL = (
    "INSERT INTO messages (id, received_at, mail_from, rcpt_to, remote_ip, helo, smtp_user, "
    "auth, message_id, raw) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


_INSERT_MESSAGE_IN_PLACE_SQL = _INSERT_MESSAGE_SQL.replace("?)", "zeroblob(?))")
_IN_PLACE_OVER = 1024 * 1024  # bytes: bigger messages are written into their row in place


def _message_row(codec: raw.Codec, m: InboundMessage) -> tuple[object, ...]:
    """A message's column values but the raw message (the last column)."""
    return (
        codec.uuid(m.id),
        codec.when(m.received_at),
        m.envelope.mail_from,
        json.dumps(list(m.envelope.rcpt_to)),
        m.envelope.remote_ip,
        m.envelope.helo,
        m.envelope.smtp_user,
        _auth_json(m.auth),
        m.message_id,
    )


class SqlMessageRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, message: InboundMessage) -> None:
        self.add_many([message])

    def add_many(self, messages: list[InboundMessage]) -> None:
        if not messages:  # an executemany on the accept path (the SMTP worker's group commit)
            return
        codec = raw.codec(self._session)
        written_in_place = raw.blobs_in_place(self._session)
        small = [m for m in messages if not (written_in_place and len(m.raw) > _IN_PLACE_OVER)]
        if small:
            rows = [(*_message_row(codec, m), m.raw) for m in small]
            raw.write_many(self._session, "messages", "insert", _INSERT_MESSAGE_SQL, rows)
        for message in messages:
            if written_in_place and len(message.raw) > _IN_PLACE_OVER:
                # SQLite: a big message is written into its row in place, not bound as a
                # parameter (which SQLite copies, then copies again into the row's record):
                # a 25 MiB message then costs the SMTP worker 2x its size, not 4x
                raw.insert_with_blob(
                    self._session,
                    "messages",
                    "raw",
                    _INSERT_MESSAGE_IN_PLACE_SQL,
                    _message_row(codec, message),
                    message.raw,
                )

    def get(self, message_id: UUID) -> InboundMessage | None:
        row = self._session.get(MessageRow, message_id)
        return _message_from_row(row) if row else None

    def get_many(self, message_ids: set[UUID]) -> dict[UUID, InboundMessage]:
        if not message_ids:
            return {}
        ahead = raw.read_back(self._session, "messages", message_ids)
        if ahead is not None:  # read with the claim of their jobs (claim_due)
            return ahead
        codec = raw.codec(self._session)
        text, params = messages_query(codec, [codec.uuid(i) for i in message_ids])
        return messages_from_rows(codec, raw.fetch(self._session, text, params))

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
