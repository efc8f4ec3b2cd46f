"""SQL repository of webhooks: CRUD, routing by address, health."""

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
    bindparam,
    delete,
    func,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hookmail.adapters.sql import raw
from hookmail.adapters.sql.domains import domain_from_row
from hookmail.adapters.sql.policies import policy_from_row
from hookmail.adapters.sql.rows import (
    AccountRow,
    DomainRow,
    PolicyRow,
    WebhookRow,
)
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


# The claim reads webhooks with their owners' time zones: plain SQL (raw.py).
_WITH_TIMEZONE = raw.Reader(*_WEBHOOKS.c, AccountRow.timezone.label("account_timezone"))


def webhooks_query(codec: raw.Codec, ids: list[object]) -> tuple[str, list[object]]:
    """The query of get_many: the webhooks of `ids` (as stored) with their owner's time
    zone; its rows go to webhooks_from_rows."""
    return (
        f"SELECT {_WITH_TIMEZONE.sql} FROM webhooks "  # noqa: S608
        "JOIN accounts ON accounts.id = webhooks.account_id "
        f"WHERE {codec.among('webhooks.id', ids)}",
        codec.params_among(ids),
    )


def webhooks_from_rows(codec: raw.Codec, rows: list[Any]) -> dict[UUID, tuple[Webhook, str]]:
    return {
        row.id: (_webhook_from_row(cast(WebhookRow, row)), row.account_timezone)
        for row in _WITH_TIMEZONE.decode(codec, rows)
    }


class SqlWebhookRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def get(self, webhook_id: UUID) -> Webhook | None:
        row = self._session.get(WebhookRow, webhook_id)
        return _webhook_from_row(row) if row else None

    def get_many(self, webhook_ids: set[UUID]) -> dict[UUID, tuple[Webhook, str]]:
        if not webhook_ids:
            return {}
        ahead = raw.read_back(self._session, "webhooks", webhook_ids)
        if ahead is not None:  # read with the claim of their jobs (claim_due)
            return ahead
        codec = raw.codec(self._session)
        text, params = webhooks_query(codec, [codec.uuid(i) for i in webhook_ids])
        return webhooks_from_rows(codec, raw.fetch(self._session, text, params))

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

    def has_tagged(self, domain: str) -> bool:
        # by the domain's rows (ix_webhooks_domain_id), not a scan of every address
        found = self._session.scalar(
            select(_WEBHOOKS.c.id)
            .join(_DOMAINS, _DOMAINS.c.id == _WEBHOOKS.c.domain_id)
            .where(_DOMAINS.c.name == domain, _WEBHOOKS.c.address.contains("+", autoescape=True))
            .limit(1)
        )
        return found is not None

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
