"""Rate limits over the store's attempt log, so they hold across every process."""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime, timedelta

from attrs import frozen

from hookmail.core.errors import RateLimited
from hookmail.core.ports import AttemptLog, UnitOfWork


@frozen
class Limit:
    """At most `count` events per key within any rolling `window`."""

    count: int
    window: timedelta


@frozen(kw_only=True)
class Limits:
    """The configurable limits of SPEC §3."""

    failures: Limit = Limit(10, timedelta(minutes=15))  # sign-in, 2FA, reset confirmation
    signups: Limit = Limit(20, timedelta(hours=1))  # per client address
    reset_requests: Limit = Limit(20, timedelta(hours=1))  # per client address

    @property
    def longest(self) -> timedelta:
        """How long an event can matter to any of these limits (older ones may be pruned)."""
        return max(self.failures.window, self.signups.window, self.reset_requests.window)


def ensure_below(log: AttemptLog, limit: Limit, keys: Iterable[str], now: datetime) -> None:
    """Raise RateLimited (with the seconds until a slot frees) when any key is at its limit."""
    for key in keys:
        events = log.since(key, now - limit.window)
        if len(events) >= limit.count:
            free_at = events[len(events) - limit.count] + limit.window
            raise RateLimited(max(1, math.ceil((free_at - now).total_seconds())))


def record(log: AttemptLog, keys: Iterable[str], now: datetime) -> None:
    for key in keys:
        log.record(key, now)


def check(uow: UnitOfWork, limit: Limit, keys: Iterable[str], now: datetime) -> None:
    """ensure_below in a read-only transaction of its own (before a slow password hash)."""
    with uow.reading():
        ensure_below(uow.attempts, limit, keys, now)


def fail(uow: UnitOfWork, keys: Iterable[str], now: datetime) -> None:
    """Count one failure under every key, in a transaction of its own."""
    with uow:
        record(uow.attempts, keys, now)
        uow.commit()
