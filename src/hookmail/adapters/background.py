"""Work done after the answer: a small thread pool that logs what fails."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

log = logging.getLogger("hookmail.background")


class ThreadBackground:
    """Tasks run on up to `workers` threads of this process, in the order given."""

    def __init__(self, workers: int = 1) -> None:
        self._workers = workers
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hookmail-bg")

    def submit(self, task: Callable[[], None]) -> None:
        self._pool.submit(self._run, task)

    @staticmethod
    def _run(task: Callable[[], None]) -> None:
        try:
            task()
        except Exception:
            log.exception("a background task failed")

    def flush(self) -> None:
        """Wait for every task submitted so far (tests and shutdown)."""
        self._pool.shutdown(wait=True)
        self._pool = ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix="hookmail-bg")
