"""SQL repositories of webhooks and their delivery logs."""

from __future__ import annotations

import json
from datetime import datetime
from types import SimpleNamespace
from typing import Any, cast
from uuid import UUID

from sqlalchemy import (
    CursorResult,
    FromClause,
    Row,
    RowMapping,
    Table,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hookmail.adapters.sql.domains import domain_from_row
from hookmail.adapters.sql.policies import policy_from_row
from hookmail.adapters.sql.rows import (
    AccountRow,
    DeliveryLogRow,
    DomainRow,
    JobRow,
    PolicyRow,
    WebhookRow,
)
from hookmail.core.deliveries import DeliveryLog, DeliveryStatus, JobStatus
from hookmail.core.domains import DomainName
from hookmail.core.errors import AddressTaken
from hookmail.core.ports import Route
from hookmail.core.webhooks import FAILING, Address, DeliveryMode, PayloadFormat, Webhook


def _stored_address(stored: str) -> Address:
    """An address as stored: already checked and normalised, so not parsed again (IDNA
    encoding is the costliest part of routing a recipient)."""
    local, _, domain = stored.rpartition("@")
    return Address(local, DomainName(domain))


def _webhook_from_row(row: WebhookRow) -> Webhook:
    return Webhook(
        id=row.id,
        account_id=row.account_id,
        domain_id=row.domain_id,
        address=_stored_address(row.address),
        target_url=row.target_url,
        secret=row.secret,
        previous_secret=row.previous_secret,
        previous_secret_until=row.previous_secret_until,
        custom_headers=json.loads(row.custom_headers),
        payload_template=row.payload_template,
        payload_format=PayloadFormat(row.payload_format),
        attachment_url_threshold=row.attachment_url_threshold,
        rate_limit=row.rate_limit,
        active=row.active,
        smtp_security_policy_id=row.smtp_security_policy_id,
        delivery_mode=DeliveryMode(row.delivery_mode),
        failing_since=row.failing_since,
        disabled_reason=row.disabled_reason,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _webhook_values(webhook: Webhook) -> dict[str, object]:
    return {
        "id": webhook.id,
        "account_id": webhook.account_id,
        "domain_id": webhook.domain_id,
        "address": str(webhook.address),
        "target_url": webhook.target_url,
        "secret": webhook.secret,
        "previous_secret": webhook.previous_secret,
        "previous_secret_until": webhook.previous_secret_until,
        "custom_headers": json.dumps(webhook.custom_headers),
        "payload_template": webhook.payload_template,
        "payload_format": webhook.payload_format.value,
        "attachment_url_threshold": webhook.attachment_url_threshold,
        "rate_limit": webhook.rate_limit,
        "active": webhook.active,
        "smtp_security_policy_id": webhook.smtp_security_policy_id,
        "delivery_mode": webhook.delivery_mode.value,
        "failing_since": webhook.failing_since,
        "disabled_reason": webhook.disabled_reason,
        "created_at": webhook.created_at,
        "updated_at": webhook.updated_at,
    }


_WEBHOOKS, _DOMAINS, _POLICIES = WebhookRow.__table__, DomainRow.__table__, PolicyRow.__table__
_ROUTES = select(
    *_WEBHOOKS.c,
    *(column.label(f"d_{column.name}") for column in _DOMAINS.c),
    *(column.label(f"p_{column.name}") for column in _POLICIES.c),
).select_from(
    _WEBHOOKS.join(_DOMAINS, _DOMAINS.c.id == _WEBHOOKS.c.domain_id).outerjoin(
        _POLICIES, _POLICIES.c.id == _WEBHOOKS.c.smtp_security_policy_id
    )
)


# One statement object, reused: SQLAlchemy memoises its cache key, which costs more to
# build than the query takes to run. A recipient has at most three candidate addresses.
_ROUTE_SLOTS = 3
_ROUTES_BY_ADDRESS = _ROUTES.where(
    _WEBHOOKS.c.address.in_([bindparam(f"a{n}") for n in range(_ROUTE_SLOTS)])
)


def _prefixed(values: RowMapping, table: FromClause, prefix: str) -> Any:
    """One table's columns of a joined row, as an object the row mappers can read."""
    return SimpleNamespace(**{c.name: values[prefix + c.name] for c in table.c})


_WITH_TIMEZONE = (
    select(*_WEBHOOKS.c, AccountRow.timezone.label("account_timezone"))
    .join(AccountRow, AccountRow.id == _WEBHOOKS.c.account_id)
    .where(_WEBHOOKS.c.id.in_(bindparam("ids", expanding=True)))
)


class SqlWebhookRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def get(self, webhook_id: UUID) -> Webhook | None:
        row = self._session.get(WebhookRow, webhook_id)
        return _webhook_from_row(row) if row else None

    def get_many(self, webhook_ids: set[UUID]) -> dict[UUID, tuple[Webhook, str]]:
        if not webhook_ids:
            return {}
        rows = self._session.execute(_WITH_TIMEZONE, {"ids": list(webhook_ids)})
        return {
            row.id: (_webhook_from_row(cast(WebhookRow, row)), row.account_timezone) for row in rows
        }

    def of_account(self, account_id: UUID) -> list[Webhook]:
        rows = self._session.scalars(
            select(WebhookRow)
            .where(WebhookRow.account_id == account_id)
            .order_by(WebhookRow.created_at, WebhookRow.id)
        )
        return [_webhook_from_row(r) for r in rows]

    def lock(self, webhook_id: UUID) -> None:
        self._session.execute(
            select(WebhookRow.id).where(WebhookRow.id == webhook_id).with_for_update()
        )

    def routes(self, addresses: list[str]) -> dict[str, Route]:
        # Plain columns, not ORM entities: this runs for every RCPT TO, and loading three
        # entities per row was a quarter of the SMTP worker's time.
        found: dict[str, Route] = {}
        rows: list[Row[Any]] = []
        for start in range(0, len(addresses), _ROUTE_SLOTS):
            chunk = addresses[start : start + _ROUTE_SLOTS]
            padded = chunk + [chunk[-1]] * (_ROUTE_SLOTS - len(chunk))
            params = {f"a{n}": address for n, address in enumerate(padded)}
            rows.extend(self._session.execute(_ROUTES_BY_ADDRESS, params))
        for row in rows:
            values = row._mapping
            domain = domain_from_row(_prefixed(values, _DOMAINS, "d_"))
            policy = None
            if values["p_id"] is not None:
                policy = policy_from_row(_prefixed(values, _POLICIES, "p_"))
            found[values["address"]] = Route(
                _webhook_from_row(cast(WebhookRow, row)), domain, policy
            )
        return found

    def count_of_account(self, account_id: UUID) -> int:
        count = self._session.scalar(
            select(func.count()).select_from(WebhookRow).where(WebhookRow.account_id == account_id)
        )
        return int(count or 0)

    def using_policy(self, policy_id: UUID) -> int:
        count = self._session.scalar(
            select(func.count())
            .select_from(WebhookRow)
            .where(WebhookRow.smtp_security_policy_id == policy_id)
        )
        return int(count or 0)

    def save(self, webhook: Webhook) -> None:
        self._session.merge(WebhookRow(**_webhook_values(webhook)))
        try:
            self._session.flush()
        except IntegrityError as exc:  # the address is the only unique key besides the id
            raise AddressTaken(str(webhook.address)) from exc

    def delete(self, webhook_id: UUID) -> None:
        self._session.execute(delete(WebhookRow).where(WebhookRow.id == webhook_id))

    # Health: conditional single-row UPDATEs, so concurrent workers never undo each other
    # and a webhook is disabled (and its owner told) exactly once.

    def mark_failing(self, webhook_id: UUID, since: datetime) -> None:
        self._session.execute(
            update(WebhookRow)
            .where(WebhookRow.id == webhook_id, WebhookRow.failing_since.is_(None))
            .values(failing_since=since)
            .execution_options(synchronize_session=False)
        )

    def mark_healthy(self, webhook_id: UUID) -> None:
        self._session.execute(
            update(WebhookRow)
            .where(WebhookRow.id == webhook_id, WebhookRow.failing_since.is_not(None))
            .values(failing_since=None)
            .execution_options(synchronize_session=False)
        )

    def disable_failing(self, webhook_id: UUID, *, failing_before: datetime, now: datetime) -> bool:
        result = self._session.execute(
            update(WebhookRow)
            .where(
                WebhookRow.id == webhook_id,
                WebhookRow.active.is_(True),
                WebhookRow.failing_since < failing_before,
            )
            .values(active=False, disabled_reason=FAILING, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        return bool(cast(CursorResult[Any], result).rowcount == 1)


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
