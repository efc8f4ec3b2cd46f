"""Retention (SPEC §6.7): what hookmail keeps, and for how long.

A message, its deliveries and their log rows go `keep` after the message was received, once
none of its deliveries is pending (a pending one keeps them all until it ends). Log rows of
no stored delivery (refusals, sync attempts whose message was not stored, rows from before
log rows named their job) go by age. Expired tokens and dashboard sessions, and counter
events older than any limit looks back, are pruned.

Deletes run in small batches, one transaction each, with `rest` between them: on SQLite
there is one writer, and a long delete would hold up the SMTP worker's commits.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from attrs import frozen

from hookmail.core.ports import Clock, UnitOfWork

DEFAULT_KEEP = timedelta(seconds=2592000)  # 30 days (HOOKMAIL_RETENTION_SECONDS)


@frozen(kw_only=True)
class RetentionPolicy:
    keep: timedelta = DEFAULT_KEEP
    counters: timedelta = timedelta(hours=1)  # the longest window of a limit (Limits.longest)
    batch: int = 500  # rows per transaction


@frozen(kw_only=True)
class SweepReport:
    messages: int  # deleted, each with its jobs and their log rows
    logs: int  # log rows of no stored job deleted
    batches: int  # transactions that deleted messages or log rows
    finished: bool  # False when `rest` stopped the sweep early


def _always() -> bool:
    return True


def sweep(
    uow: UnitOfWork,
    clock: Clock,
    policy: RetentionPolicy,
    *,
    rest: Callable[[], bool] = _always,
) -> SweepReport:
    """One retention sweep. `rest` is called between two batches; it may pause, and its
    False stops the sweep there (a worker shutting down). Running it in several processes
    at once is harmless: each batch skips what another is deleting, and deletes are
    idempotent."""
    now = clock.now()
    cutoff = now - policy.keep
    steps: dict[str, Callable[[UnitOfWork], int]] = {  # one batch of each, in this order
        "messages": lambda work: work.messages.remove_expired(cutoff, limit=policy.batch),
        "logs": lambda work: work.delivery_logs.remove_unlinked(cutoff, limit=policy.batch),
    }
    counts = dict.fromkeys(steps, 0)
    batches = 0
    for kind, remove in steps.items():
        while True:
            with uow:
                removed = remove(uow)
                uow.commit()
            batches += 1
            counts[kind] += removed
            if removed < policy.batch:
                break
            if not rest():
                return SweepReport(**counts, batches=batches, finished=False)
    with uow:
        uow.tokens.prune(now)
        uow.web_sessions.prune(now)
        uow.attempts.prune(now - policy.counters)
        uow.commit()
    return SweepReport(**counts, batches=batches, finished=True)
