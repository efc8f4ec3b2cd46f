"""The Background port: the thread pool and the inline fake run every task, in order, and a
failing task is logged, never raised to the caller."""

from __future__ import annotations

import logging
import threading

import pytest

from hookmail.adapters.background import ThreadBackground
from hookmail.adapters.memory import InlineBackground

Backgrounds = ThreadBackground | InlineBackground


@pytest.fixture(params=["inline", "thread"])
def background(request: pytest.FixtureRequest) -> Backgrounds:
    return InlineBackground() if request.param == "inline" else ThreadBackground()


def _settle(background: Backgrounds) -> None:
    if isinstance(background, ThreadBackground):
        background.flush()


def test_every_task_runs_in_order(background: Backgrounds) -> None:
    done: list[int] = []
    for n in range(5):
        background.submit(lambda n=n: done.append(n))  # type: ignore[misc]
    _settle(background)
    assert done == [0, 1, 2, 3, 4]


def test_a_failing_task_is_logged_not_raised(
    background: Backgrounds, caplog: pytest.LogCaptureFixture
) -> None:
    def boom() -> None:
        raise RuntimeError("boom")

    done = threading.Event()
    caplog.set_level(logging.ERROR, logger="hookmail.background")
    background.submit(boom)
    background.submit(done.set)
    _settle(background)
    assert done.is_set()
    assert "a background task failed" in caplog.text
