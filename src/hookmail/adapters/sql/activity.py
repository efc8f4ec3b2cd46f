"""Counts over an account's recent traffic (the dashboard's overview), computed in SQL."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from hookmail.adapters.sql.deliveries import delivery_log_from_row
from hookmail.adapters.sql.rows import DeliveryLogRow, JobRow, WebhookRow
from hookmail.core.deliveries import DeliveryJob, DeliveryLog, DeliveryStatus, JobStatus


class SqlActivityReport:
    def __init__(self, session: Session) -> None:
        self._session = session

    def attempts_by_hour(
        self, account_id: UUID, since: datetime, hours: int
    ) -> dict[tuple[int, DeliveryStatus], int]:
        # The hour of a row as a CASE over the hour edges: the same SQL on SQLite and
        # PostgreSQL, grouped in an outer query so the edges are bound once.
        edges = [since + timedelta(hours=i) for i in range(1, hours)]
        hour = case(
            *[(DeliveryLogRow.attempted_at < edge, i) for i, edge in enumerate(edges)],
            else_=hours - 1,
        ).label("hour")
        rows = (
            select(hour, DeliveryLogRow.status.label("status"))
            .join(WebhookRow, WebhookRow.id == DeliveryLogRow.webhook_id)
            .where(WebhookRow.account_id == account_id, DeliveryLogRow.attempted_at >= since)
            .subquery()
        )
        counted = self._session.execute(
            select(rows.c.hour, rows.c.status, func.count()).group_by(rows.c.hour, rows.c.status)
        )
        return {(int(h), DeliveryStatus(s)): int(n) for h, s, n in counted}

    def job_statuses(self, account_id: UUID, since: datetime) -> list[tuple[UUID, JobStatus]]:
        found = self._session.execute(
            select(JobRow.message_id, JobRow.status).where(
                JobRow.account_id == account_id, JobRow.created_at >= since
            )
        )
        return [(message_id, JobStatus(status)) for message_id, status in found]

    def attempts_of(self, job: DeliveryJob, smtp_message_id: str) -> list[DeliveryLog]:
        # by ix_delivery_logs_job_attempted; rows from before 0010 by the webhook's index
        older = and_(
            DeliveryLogRow.job_id.is_(None),
            DeliveryLogRow.webhook_id == job.webhook_id,
            DeliveryLogRow.attempted_at >= job.created_at,
            DeliveryLogRow.smtp_message_id == smtp_message_id,
            DeliveryLogRow.status != DeliveryStatus.REFUSED.value,
        )
        rows = self._session.scalars(
            select(DeliveryLogRow)
            .where(or_(DeliveryLogRow.job_id == job.id, older))
            .order_by(DeliveryLogRow.attempted_at, DeliveryLogRow.attempt)
        )
        return [delivery_log_from_row(row) for row in rows]
