"""Failing webhooks are paused, never silently dropped (SPEC §6.3).

A webhook's `failing_since` is the time of its first failed attempt after its last success.
When an attempt fails and that is older than DISABLE_AFTER, the webhook is disabled
(`active: false`, `disabled_reason: "failing"`) and its owner is mailed. Its queued
deliveries then wait (claiming skips inactive webhooks) until `PUT active: true`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING
from uuid import UUID

from attrs import frozen

from hookmail.core.deliveries import DeliveryStatus
from hookmail.core.ports import Mailer, UnitOfWork
from hookmail.core.webhooks import Webhook

if TYPE_CHECKING:  # only for annotations: delivery imports this module
    from hookmail.core.services.delivery import Attempt


@frozen(kw_only=True)
class HealthPolicy:
    disable_after: timedelta
    mailer: Mailer
    public_url: str


@frozen
class Disabled:
    webhook: Webhook
    owner: str  # the account's email address
    last_error: str


def observe(uow: UnitOfWork, policy: HealthPolicy, attempts: list[Attempt]) -> Callable[[], None]:
    """Within the transaction that records `attempts`: keep each webhook's `failing_since`
    and disable the ones failing too long. Returns what to do once that transaction has
    committed (mail the owners of the webhooks it disabled).

    Only changes are written: a healthy webhook's success, the common case, costs nothing.
    The webhook as claimed is the reference; the conditional updates in the store make
    concurrent workers agree (the first failure counts, one worker disables)."""
    disabled: list[Disabled] = []
    failing: dict[UUID, bool] = {}  # webhook id -> failing after this batch
    for done in sorted(attempts, key=lambda a: a.log.attempted_at):
        webhook, log = done.webhook, done.log
        was_failing = failing.get(webhook.id, webhook.failing_since is not None)
        if log.status is DeliveryStatus.DELIVERED:
            if was_failing:
                uow.webhooks.mark_healthy(webhook.id)
            failing[webhook.id] = False
            continue
        if not was_failing:
            uow.webhooks.mark_failing(webhook.id, log.attempted_at)
            failing[webhook.id] = True
            continue
        cutoff = log.attempted_at - policy.disable_after
        if webhook.failing_since is not None and webhook.failing_since >= cutoff:
            continue  # failing, but not for long enough (as far as the claim saw)
        if uow.webhooks.disable_failing(webhook.id, failing_before=cutoff, now=log.attempted_at):
            account = uow.accounts.get(webhook.account_id)
            if account is not None:
                disabled.append(Disabled(webhook, account.email, log.error or "unknown error"))
    return lambda: notify(policy, disabled)


def would_change(attempts: list[Attempt]) -> bool:
    """Whether observe() may write anything for `attempts`: a failure, or a success of a
    webhook that was failing. (Lets a caller outside a transaction skip opening one.)"""
    return any(
        a.log.status is not DeliveryStatus.DELIVERED or a.webhook.failing_since is not None
        for a in attempts
    )


def record_health(uow: UnitOfWork, policy: HealthPolicy, attempts: list[Attempt]) -> None:
    """observe() in a transaction of its own, then notify: for attempts recorded elsewhere
    (a sync attempt's log goes with its message through the SMTP worker's group commit)."""
    if not would_change(attempts):
        return
    with uow:
        then = observe(uow, policy, attempts)
        uow.commit()
    then()


def notify(policy: HealthPolicy, disabled: list[Disabled]) -> None:
    """Tell each owner which webhook was disabled and why."""
    for item in disabled:
        hook = item.webhook
        policy.mailer.send(
            to=item.owner,
            subject=f"hookmail: webhook for {hook.address} disabled after failing",
            body=(
                f"Your webhook {hook.id} for {hook.address}, posting to {hook.target_url},\n"
                f"has failed every delivery attempt for more than "
                f"{_duration(policy.disable_after)}, so hookmail has disabled it.\n\n"
                f"Last error: {item.last_error}\n\n"
                "Mail to this address is refused until you turn the webhook back on, and\n"
                "the deliveries already queued are held, not dropped. Once the target\n"
                "answers again, set the webhook active (PUT /api/v1/webhooks/"
                f'{hook.id} with {{"active": true}}) and they go out.\n\n'
                f"{policy.public_url}\n"
            ),
        )


def _duration(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} second{'s' if seconds != 1 else ''}"
