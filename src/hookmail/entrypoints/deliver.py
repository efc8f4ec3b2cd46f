"""The delivery worker: claim due jobs, deliver them on a thread pool, record the attempts.

One loop does the store work: each pass records the attempts that finished and claims as
many due jobs as there are free threads, in one transaction. It wakes when a notice says
new jobs were committed (adapters/notify.py), when an attempt finishes, or after
`poll_interval` at the latest (retries that come due, a lost notice). Claims are fair (see
JobRepository.claim_due): one slow webhook never holds more than its share of the threads.

On SIGTERM it claims nothing more, gives back what it claimed but did not start, and waits
only for the attempts in flight, so a stop takes at most one attempt's time.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from uuid import UUID

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from hookmail.adapters.notify import Listener
from hookmail.core.ports import Clock, UnitOfWork, WebhookTransport
from hookmail.core.services import delivery
from hookmail.core.services.delivery import Attempt, DeliveryConfig, Work
from hookmail.core.services.webhook_health import HealthPolicy
from hookmail.entrypoints.sweeper import Sweeper

log = logging.getLogger("hookmail.deliver")
_LINGER = 0.02  # seconds finished attempts may wait to be recorded together
_GAP = 0.010  # seconds between store passes at the least, under load


class DeliveryWorker:
    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        clock: Clock,
        transport: WebhookTransport,
        config: DeliveryConfig,
        *,
        concurrency: int = 32,
        poll_interval: float = 1.0,
        listener: Listener | None = None,
        registry: CollectorRegistry | None = None,
        health: HealthPolicy | None = None,
        sweeper: Sweeper | None = None,
    ) -> None:
        self._uow = uow
        self._sweeper = sweeper  # retention, on a thread of its own (entrypoints/sweeper.py)
        self._health = health
        self._clock = clock
        self._transport = transport
        self._config = config
        self._concurrency = concurrency
        self._enough = max(1, concurrency // 4)  # finished attempts worth a pass of their own
        self._poll_interval = poll_interval
        self._listener = listener
        self._done: queue.SimpleQueue[Attempt] = queue.SimpleQueue()
        self._wake = threading.Event()  # something to do: a notice or a finished attempt
        self._noticed = threading.Event()  # a notice: new jobs were committed
        self.passes = self.claimed = 0  # store passes made, and jobs claimed in them
        self._last_moved = 0  # jobs claimed and attempts recorded by the last pass
        self._running: dict[UUID, Future[None]] = {}  # claimed jobs, by id, until recorded
        self.attempts = Counter(
            "hookmail_delivery_attempts",
            "Delivery attempts by outcome.",
            ["status"],
            registry=registry,
        )
        self.queue_depth = Gauge(
            "hookmail_delivery_queue_depth",
            "Jobs waiting for delivery.",
            registry=registry,
            multiprocess_mode="liveall",
        )
        self.latency = Histogram(
            "hookmail_delivery_latency_seconds",
            "From SMTP acceptance to successful delivery.",
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 7200),
            registry=registry,
        )

    # -- threads -------------------------------------------------------------------------

    def _deliver(self, work: Work) -> None:
        try:
            self._done.put(delivery.attempt(self._clock, self._transport, self._config, work=work))
        except Exception:  # attempt() turns every failure into a logged attempt; belt and braces
            log.exception("delivering job %s failed; its lease will run out", work.job.id)
            raise
        finally:
            self._wake.set()

    def _listen(self, stop: threading.Event) -> None:
        listener = self._listener
        if listener is None:
            return
        while not stop.is_set():
            if listener.wait(0.5):
                self._noticed.set()
                self._wake.set()

    # -- the loop ------------------------------------------------------------------------

    def _finished(self) -> list[Attempt]:
        found = []
        while True:
            try:
                found.append(self._done.get_nowait())
            except queue.Empty:
                break
        return found

    def _forget_dead(self) -> None:
        """Attempts that ended without an outcome (see _deliver) free their slot."""
        dead = [
            job_id
            for job_id, future in self._running.items()
            if future.done() and not future.cancelled() and future.exception() is not None
        ]
        for job_id in dead:
            del self._running[job_id]

    def run_once(self, pool: ThreadPoolExecutor, *, claiming: bool = True) -> int:
        """One pass: record what finished and claim what there is room for; how many
        were claimed."""
        self._forget_dead()
        finished = self._finished()
        room = self._concurrency - (len(self._running) - len(finished)) if claiming else 0
        if not finished and room <= 0:
            return 0
        try:
            work = delivery.claim(
                self._uow(),
                self._clock,
                self._config,
                limit=max(0, room),
                finished=finished,
                health=self._health,
            )
        except Exception:
            log.exception(
                "recording %d attempts and claiming failed; their jobs will be retried",
                len(finished),
            )
            for done in finished:
                self._running.pop(done.job.id, None)
            raise
        self.passes += 1
        self.claimed += len(work)
        self._last_moved = len(work) + len(finished)
        self._count(finished)
        for done in finished:
            self._running.pop(done.job.id, None)
        for item in work:
            self._running[item.job.id] = pool.submit(self._deliver, item)
        return len(work)

    def _count(self, finished: list[Attempt]) -> None:
        now = self._clock.now()
        for done in finished:
            self.attempts.labels(done.log.status.value).inc()
            if done.log.status.value == "delivered":
                self.latency.observe((now - done.received_at).total_seconds())

    def run(self, stop: threading.Event) -> None:
        """Until `stop` is set; then give back unstarted jobs and let attempts in flight
        finish and be recorded."""
        last_depth = 0.0
        listening = threading.Thread(target=self._listen, args=(stop,), name="hookmail-listen")
        listening.start()
        sweeping = None
        if self._sweeper is not None:
            sweeping = threading.Thread(
                target=self._sweeper.run, args=(stop,), name="hookmail-sweep", daemon=True
            )
            sweeping.start()
        pool = ThreadPoolExecutor(self._concurrency, thread_name_prefix="hookmail-deliver")
        self._noticed.set()  # whatever is due already
        self._wake.set()
        last_pass = 0.0
        try:
            while not stop.is_set():
                self._wake.wait(self._poll_interval)
                self._linger()
                # New jobs are claimed at once; but under load (the last pass moved many
                # jobs) passes are _GAP apart, so the notices of many SMTP commits and the
                # ends of many attempts share one transaction.
                if self._last_moved >= self._enough // 2:
                    time.sleep(max(0.0, last_pass + _GAP - time.monotonic()))
                last_pass = time.monotonic()
                self._wake.clear()
                self._noticed.clear()
                try:
                    self.run_once(pool)
                except Exception:
                    stop.wait(1.0)
                if time.monotonic() - last_depth > 5:
                    last_depth = time.monotonic()
                    self._update_depth()
            self._stop(pool)
        finally:
            pool.shutdown(wait=True)
            stop.set()
            listening.join()
            if sweeping is not None:
                sweeping.join(timeout=5)  # a batch in progress commits or rolls back
            if self._listener is not None:
                self._listener.close()
        log.info(
            "delivery worker stopped; attempts in flight finished (%d passes, %d claimed)",
            self.passes,
            self.claimed,
        )

    def _linger(self) -> None:
        """Woken by finished attempts only: let more finish (or new jobs be noticed) before
        the next pass, so one transaction records many; recording later delays nobody."""
        deadline = time.monotonic() + _LINGER
        while not self._noticed.is_set():
            finished = self._done.qsize()
            if finished >= self._enough or finished >= len(self._running):
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self._wake.clear()
            self._wake.wait(remaining)

    def _stop(self, pool: ThreadPoolExecutor) -> None:
        unstarted = {job_id for job_id, f in self._running.items() if f.cancel()}
        for job_id in unstarted:
            del self._running[job_id]
        if unstarted:
            try:
                with self._uow() as uow:
                    uow.jobs.release(unstarted)
                    uow.commit()
            except Exception:
                log.warning(
                    "could not give back %d jobs; their leases will run out", len(unstarted)
                )
        deadline = time.monotonic() + self._config.timeout + 5
        while self._running and time.monotonic() < deadline:
            self._wake.wait(0.1)
            self._wake.clear()
            try:
                self.run_once(pool, claiming=False)
            except Exception:
                time.sleep(0.2)

    def _update_depth(self) -> None:
        try:
            with self._uow() as uow:
                self.queue_depth.set(uow.jobs.pending())
        except Exception:
            log.warning("could not read the queue depth", exc_info=True)
