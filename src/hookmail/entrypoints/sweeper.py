"""The retention sweeper: a thread of the delivery worker that runs a retention sweep
(core/services/retention.py) every SWEEP_INTERVAL seconds.

Between two batches it pauses `pause` seconds. On SQLite that is what lets the SMTP
worker's commits in: a writer waiting for the lock is retried by SQLite's busy handler
after sleeps of a few milliseconds, and without a pause the next batch would always take
the lock first. Several delivery workers on PostgreSQL may sweep at once: each batch skips
the rows another is deleting (SKIP LOCKED), and deletes are idempotent.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter

from hookmail.core.ports import Clock, UnitOfWork
from hookmail.core.services import retention
from hookmail.core.services.retention import RetentionPolicy, SweepReport

log = logging.getLogger("hookmail.retention")


class Sweeper:
    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        clock: Clock,
        policy: RetentionPolicy,
        *,
        interval: float = 60.0,
        pause: float = 0.05,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._policy = policy
        self._interval = interval
        self._pause = pause
        self.sweeps = 0  # sweeps run (finished or stopped), for tests and the log
        self.last: SweepReport | None = None
        self.deleted = Counter(
            "hookmail_retention_deleted",
            "Rows deleted by retention sweeps: messages (with their jobs and logs), log rows.",
            ["kind"],
            registry=registry,
        )

    def sweep_once(self, stop: threading.Event) -> SweepReport:
        report = retention.sweep(
            self._uow(), self._clock, self._policy, rest=lambda: not stop.wait(self._pause)
        )
        self.sweeps += 1
        self.last = report
        self.deleted.labels("messages").inc(report.messages)
        self.deleted.labels("logs").inc(report.logs)
        if report.messages or report.logs:
            log.info(
                "retention: %d messages and %d other log rows deleted in %d batches",
                report.messages,
                report.logs,
                report.batches,
            )
        return report

    def run(self, stop: threading.Event) -> None:
        """Sweep now, then every `interval` seconds, until `stop` is set. A failed sweep
        is logged and tried again at the next interval."""
        while not stop.is_set():
            try:
                self.sweep_once(stop)
            except Exception:
                log.exception("retention sweep failed; trying again in %s s", self._interval)
            stop.wait(self._interval)
