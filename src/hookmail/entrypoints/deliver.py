"""The delivery worker: claim due jobs in batches, deliver them concurrently, record."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from hookmail.core.ports import Clock, UnitOfWork, WebhookTransport
from hookmail.core.services import delivery
from hookmail.core.services.delivery import DeliveryConfig, ParsedMessages, Work
from hookmail.core.services.webhook_health import HealthPolicy

log = logging.getLogger("hookmail.deliver")


class DeliveryWorker:
    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        clock: Clock,
        transport: WebhookTransport,
        config: DeliveryConfig,
        *,
        concurrency: int = 32,
        batch: int = 64,
        idle_wait: float = 0.1,
        registry: CollectorRegistry | None = None,
        health: HealthPolicy | None = None,
    ) -> None:
        self._uow = uow
        self._health = health
        self._clock = clock
        self._transport = transport
        self._config = config
        self._concurrency = concurrency
        self._batch = batch
        self._idle_wait = idle_wait
        self._parsed = ParsedMessages()
        self._done: queue.SimpleQueue[delivery.Attempt] = queue.SimpleQueue()
        self._in_flight = 0
        self._room = threading.Condition()  # guards _in_flight
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
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 7200),
            registry=registry,
        )

    def _deliver(self, work: Work) -> None:
        try:
            done = delivery.attempt(
                self._clock, self._transport, self._config, work=work, parsed=self._parsed
            )
        except Exception:  # the lease runs out and another worker (or we) retry the job
            log.exception("delivering job %s failed", work.job.id)
            self._finished(1)
            return
        self._done.put(done)

    def _record(self, stop: threading.Event) -> None:
        """Record finished attempts in batches: one transaction for many."""
        while True:
            try:
                batch = [self._done.get(timeout=0.1)]
            except queue.Empty:
                if stop.is_set() and self._in_flight == 0:
                    return
                continue
            while len(batch) < 256:
                try:
                    batch.append(self._done.get_nowait())
                except queue.Empty:
                    break
            try:
                delivery.record(self._uow(), batch, self._health)
            except Exception:
                log.exception(
                    "recording %d attempts failed; their jobs will be retried", len(batch)
                )
            else:
                now = self._clock.now()
                for done in batch:
                    self.attempts.labels(done.log.status.value).inc()
                    if done.log.status.value == "delivered":
                        waited = now - done.work.message.received_at
                        self.latency.observe(waited.total_seconds())
            self._finished(len(batch))

    def _finished(self, count: int) -> None:
        with self._room:
            self._in_flight -= count
            self._room.notify()

    def run_once(self, pool: ThreadPoolExecutor) -> int:
        """Claim what there is room for and hand it to the pool; how many were claimed."""
        with self._room:
            while self._in_flight >= self._concurrency:
                self._room.wait()
            room = self._concurrency * 2 - self._in_flight
        work = delivery.claim(self._uow(), self._clock, self._config, limit=min(self._batch, room))
        with self._room:
            self._in_flight += len(work)
        for item in work:
            pool.submit(self._deliver, item)
        return len(work)

    def run(self, stop: threading.Event) -> None:
        """Until `stop` is set; then let attempts in flight finish."""
        last_depth = 0.0
        recorder = threading.Thread(target=self._record, args=(stop,), name="hookmail-record")
        recorder.start()
        with ThreadPoolExecutor(self._concurrency, thread_name_prefix="hookmail-deliver") as pool:
            while not stop.is_set():
                try:
                    claimed = self.run_once(pool)
                except Exception:
                    log.exception("claiming jobs failed; retrying shortly")
                    claimed = 0
                    stop.wait(1.0)
                if time.monotonic() - last_depth > 5:
                    last_depth = time.monotonic()
                    self._update_depth()
                if not claimed:
                    stop.wait(self._idle_wait)
        recorder.join()
        log.info("delivery worker stopped; attempts in flight finished")

    def _update_depth(self) -> None:
        try:
            with self._uow() as uow:
                self.queue_depth.set(uow.jobs.pending())
        except Exception:
            log.warning("could not read the queue depth", exc_info=True)
