"""Replay (SPEC §6.2): deliver again what was delivered or failed, with the same
`webhook-id`, a fresh retry schedule and attempt numbers that go on."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from uuid import UUID

from attrs import frozen

from hookmail.core.deliveries import JobStatus
from hookmail.core.errors import InvalidField, WebhookNotFound
from hookmail.core.ports import Clock, UnitOfWork
from hookmail.core.services.messages import get_message

BATCH = 500  # jobs per transaction in a window replay: short transactions, SMTP never waits

_DONE = frozenset({JobStatus.DELIVERED, JobStatus.FAILED})


def _instant(raw: str, name: str) -> datetime:
    """An RFC 3339 date-time with an offset (a naive time is ambiguous, so refused)."""
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidField(name, "must be an RFC 3339 date-time") from None
    if value.tzinfo is None:
        raise InvalidField(name, "must carry a time zone offset, e.g. Z or +02:00")
    return value


@frozen
class Window:
    since: datetime
    until: datetime
    statuses: frozenset[JobStatus]

    @classmethod
    def parse(
        cls, *, since: str | None, until: str | None, status: str | None, now: datetime
    ) -> Window:
        if since is None:
            raise InvalidField("since", "is required")
        start = _instant(since, "since")
        end = now if until is None else _instant(until, "until")
        if end < start:
            raise InvalidField("until", "must not be before since")
        if status in (None, "failed"):
            statuses = frozenset({JobStatus.FAILED})
        elif status == "all":
            statuses = _DONE
        else:
            raise InvalidField("status", "must be failed or all")
        return cls(start, end, statuses)


def replay_message(
    uow: UnitOfWork,
    clock: Clock,
    *,
    account_id: UUID,
    message_id: UUID,
    webhook_id: UUID | None = None,
) -> int:
    """Queue the account's delivered or failed deliveries of the message again (only the one
    to `webhook_id` when given); pending ones and inactive webhooks' are left alone. How many
    were queued."""
    message = get_message(uow, account_id=account_id, message_id=message_id)
    deliveries = message.deliveries
    if webhook_id is not None:
        deliveries = tuple(d for d in deliveries if d.webhook_id == webhook_id)
        if not deliveries:
            _own_webhook(uow, account_id, webhook_id)  # 404 for another account's webhook
    with uow:
        active = {
            w
            for w in {d.webhook_id for d in deliveries}
            if (hook := uow.webhooks.get(w)) is not None and hook.active
        }
        ids = [d.id for d in deliveries if d.status in _DONE and d.webhook_id in active]
        count = uow.jobs.requeue(ids, now=clock.now())
        uow.commit()
    return count


def _own_webhook(uow: UnitOfWork, account_id: UUID, webhook_id: UUID) -> bool:
    """Whether the account's webhook is active. Raises WebhookNotFound for another's."""
    with uow.reading():
        webhook = uow.webhooks.get(webhook_id)
    if webhook is None or webhook.account_id != account_id:
        raise WebhookNotFound
    return webhook.active


def replay_window(
    uow: UnitOfWork,
    clock: Clock,
    *,
    account_id: UUID,
    webhook_id: UUID,
    window: Window,
    batch: int = BATCH,
    between_batches: Callable[[], None] = lambda: None,
) -> int:
    """Queue again the webhook's deliveries in `window.statuses` whose message was received in
    the window, `batch` per transaction (read by keyset, so each batch costs the same and no
    lock is held between them; `between_batches` may pause, so that writers waiting for the
    store, such as the SMTP worker's commits, get their turn). Nothing when the webhook is
    inactive. How many were queued."""
    if not _own_webhook(uow, account_id, webhook_id):
        return 0
    count = 0
    after: tuple[datetime, UUID] | None = None
    while True:
        with uow:
            hook = uow.webhooks.get(webhook_id)
            if hook is None or not hook.active:  # deleted or paused meanwhile: stop here
                return count
            jobs = uow.jobs.replayable(
                webhook_id,
                since=window.since,
                until=window.until,
                statuses=window.statuses,
                after=after,
                limit=batch,
            )
            count += uow.jobs.requeue([j.id for j in jobs], now=clock.now())
            uow.commit()
        if len(jobs) < batch:
            return count
        after = (jobs[-1].created_at, jobs[-1].id)
        between_batches()
