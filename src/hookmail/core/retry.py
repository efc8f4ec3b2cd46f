"""When to try again after a failed attempt."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

JITTER = 0.2


def next_attempt(
    *,
    attempts: int,
    schedule: tuple[int, ...],
    now: datetime,
    retry_after: int | None = None,
    rng: random.Random | None = None,
) -> datetime | None:
    """After `attempts` failed attempts, when the next one is due, or None for no more.

    The scheduled delay gets ±20 % jitter; a `Retry-After` is honoured up to twice the
    scheduled delay.
    """
    if attempts > len(schedule):
        return None
    scheduled = schedule[attempts - 1]
    delay = scheduled * (1 + (rng or random).uniform(-JITTER, JITTER))
    if retry_after is not None:
        delay = min(max(retry_after, 0), 2 * scheduled)
    return now + timedelta(seconds=delay)
