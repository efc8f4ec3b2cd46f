from __future__ import annotations

from datetime import timedelta

import pytest

from hookmail.adapters.memory import InMemoryUnitOfWork
from hookmail.core import throttle
from hookmail.core.errors import RateLimited
from hookmail.core.throttle import Limit
from tests.builders import NOW

LIMIT = Limit(3, timedelta(minutes=10))


def test_the_limit_trips_at_its_count_and_says_when_a_slot_frees() -> None:
    uow = InMemoryUnitOfWork()
    with uow:
        for minutes in (0, 2, 4):
            throttle.ensure_below(uow.attempts, LIMIT, ["k"], NOW + timedelta(minutes=minutes))
            throttle.record(uow.attempts, ["k"], NOW + timedelta(minutes=minutes))
        with pytest.raises(RateLimited) as raised:
            throttle.ensure_below(uow.attempts, LIMIT, ["k"], NOW + timedelta(minutes=5))
    assert raised.value.retry_after == 5 * 60  # the oldest event leaves the window at +10 min


def test_the_window_rolls() -> None:
    uow = InMemoryUnitOfWork()
    with uow:
        throttle.record(uow.attempts, ["k"] * 3, NOW)
        throttle.ensure_below(uow.attempts, LIMIT, ["k"], NOW + timedelta(minutes=10))
        throttle.ensure_below(uow.attempts, LIMIT, ["other"], NOW)


def test_any_key_over_its_limit_trips() -> None:
    uow = InMemoryUnitOfWork()
    with uow:
        throttle.record(uow.attempts, ["b"] * 3, NOW)
        with pytest.raises(RateLimited):
            throttle.ensure_below(uow.attempts, LIMIT, ["a", "b"], NOW)
