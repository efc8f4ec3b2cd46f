"""The delivery worker: claim due jobs, deliver them on an event loop, record the attempts.

The worker's thread does the store work: each pass records the attempts that finished and
claims as many due jobs as there is room for, in one transaction. The attempts run on one
event loop (uvloop) in a thread of its own: with many in flight, one loop costs far less CPU
than a thread each fighting for the GIL (docs/performance.md). A templated payload (a tenant's
template may render for up to a second) or a big message is built off the loop, on a thread
pool, so it never stalls the others' POSTs; so is a transport that isn't async (a test's, a
library user's).

It wakes when a notice says new jobs were committed (adapters/notify.py), when an attempt
finishes, or after `poll_interval` at the latest (retries that come due, a lost notice).
Claims are fair (see JobRepository.claim_due): one slow webhook never holds more than its
share of the attempts in flight.

On SIGTERM it claims nothing more, gives back what it claimed but did not start, and waits
only for the attempts in flight, so a stop takes at most one attempt's time.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import cast
from uuid import UUID

import uvloop
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from hookmail.adapters.notify import Listener
from hookmail.core.ports import AsyncWebhookTransport, Clock, UnitOfWork, WebhookTransport
from hookmail.core.services import delivery
from hookmail.core.services.delivery import Attempt, DeliveryConfig, Work
from hookmail.core.services.webhook_health import HealthPolicy
from hookmail.entrypoints.sweeper import Sweeper

log = logging.getLogger("hookmail.deliver")
_LINGER = 0.02  # seconds finished attempts may wait to be recorded together
_GAP = 0.010  # seconds between store passes at the least, under load
_BUILD_ON_LOOP = 256 * 1024  # bigger messages are parsed and encoded on the thread pool


class DeliveryWorker:
    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        clock: Clock,
        transport: WebhookTransport,
        config: DeliveryConfig,
        *,
        concurrency: int = 64,
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
        # whether the transport sends on the event loop (a Protocol's isinstance() is slow:
        # asked once, not per attempt)
        self._sends_async = isinstance(transport, AsyncWebhookTransport)
        self._config = config
        self._concurrency = concurrency
        self._enough = max(1, concurrency // 4)  # finished attempts worth a pass of their own
        self._poll_interval = poll_interval
        self._listener = listener
        self._done: queue.SimpleQueue[Attempt] = queue.SimpleQueue()
        self._wake = threading.Event()  # something to do: a notice or a finished attempt
        self._noticed = threading.Event()  # a notice: new jobs were committed
        self.passes = self.claimed = 0  # store passes made, and jobs claimed in them
        self.idle_passes = 0  # passes that found nothing to claim or record
        self._last_moved = 0  # jobs claimed and attempts recorded by the last pass
        self._running: dict[UUID, Future[bool]] = {}  # claimed jobs, by id, until recorded
        self._webhook_of: dict[UUID, UUID] = {}  # the webhook of each job in _running
        self._stopping = threading.Event()  # attempts not begun yet give their job back
        self._loop: asyncio.AbstractEventLoop | None = None  # the attempts' (run())
        self._blocking: ThreadPoolExecutor | None = None  # big builds, a transport not async
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

    @property
    def stopping(self) -> bool:
        """Whether the worker has begun to stop (attempts not begun give their job back)."""
        return self._stopping.is_set()

    # -- the attempts, on the event loop -------------------------------------------------

    async def _deliver(self, work: Work) -> bool:
        """One attempt; False when the worker began stopping first (the job is given back)."""
        try:
            if self._stopping.is_set():
                return False
            self._done.put(await self._attempt(work))
            return True
        except Exception:  # attempt's steps turn every failure into an outcome; belt and braces
            log.exception("delivering job %s failed; its lease will run out", work.job.id)
            raise
        finally:
            self._wake.set()

    async def _attempt(self, work: Work) -> Attempt:
        loop = asyncio.get_running_loop()
        clock, config, transport = self._clock, self._config, self._transport
        if work.webhook.payload_template is None and len(work.message.raw) <= _BUILD_ON_LOOP:
            sending = delivery.start(clock, config, work)
        else:  # a tenant's template may render for up to a second; a big mail takes a while
            sending = await loop.run_in_executor(
                self._blocking, delivery.start, clock, config, work
            )
        started = sending.started
        if self._sends_async:
            outcome = await delivery.send_async(
                cast(AsyncWebhookTransport, transport), config, work, sending
            )
        else:
            outcome = await loop.run_in_executor(
                self._blocking, delivery.send, transport, config, work, sending
            )
        del sending  # a big body is freed before the attempt is recorded
        return delivery.finish(clock, config, work, started, outcome)

    # -- threads -------------------------------------------------------------------------

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

    def _forget_dead(self) -> set[UUID]:
        """Attempts that ended without an outcome free their slot: those that failed (see
        _deliver) and those that never began (stopping); the jobs of the latter."""
        unstarted = set()
        for job_id, future in list(self._running.items()):
            if not future.done():
                continue
            if future.cancelled() or (future.exception() is None and not future.result()):
                unstarted.add(job_id)
                del self._running[job_id]
            elif future.exception() is not None:
                del self._running[job_id]
        return unstarted

    def run_once(self, *, claiming: bool = True) -> int:
        """One pass: record what finished and claim what there is room for; how many
        were claimed."""
        loop = self._loop
        if loop is None:
            raise RuntimeError("run_once() outside run()")
        self._forget_dead()
        finished = self._finished()
        room = self._concurrency - (len(self._running) - len(finished)) if claiming else 0
        if not finished and room <= 0:
            return 0
        # each webhook's attempts in flight here once `finished` are recorded: its share is
        # of this worker's capacity
        recorded = {done.job.id for done in finished}
        webhook_of = self._webhook_of
        held = collections.Counter(
            webhook_of[job_id] for job_id in self._running if job_id not in recorded
        )
        try:
            work = delivery.claim(
                self._uow(),
                self._clock,
                self._config,
                limit=max(0, room),
                finished=finished,
                health=self._health,
                held=held,
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
        self.idle_passes += not work and not finished
        self._last_moved = len(work) + len(finished)
        self._count(finished)
        for done in finished:
            self._running.pop(done.job.id, None)
        self._webhook_of = {job_id: webhook_of[job_id] for job_id in self._running}
        for item in work:
            self._running[item.job.id] = asyncio.run_coroutine_threadsafe(self._deliver(item), loop)
            self._webhook_of[item.job.id] = item.webhook.id
        return len(work)

    def _count(self, finished: list[Attempt]) -> None:
        now = self._clock.now()
        by_status = collections.Counter(done.log.status.value for done in finished)
        for status, count in by_status.items():  # one increment per status and pass
            self.attempts.labels(status).inc(count)
        for done in finished:
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
        loop = self._loop = uvloop.new_event_loop()
        looping = threading.Thread(target=loop.run_forever, name="hookmail-attempts")
        looping.start()
        # threads are started as they are needed: none unless templates or big mails come
        self._blocking = ThreadPoolExecutor(
            self._concurrency, thread_name_prefix="hookmail-deliver"
        )
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
                    self.run_once()
                except Exception:
                    log.exception("a delivery pass failed; the next in 1 s")
                    stop.wait(1.0)
                if time.monotonic() - last_depth > 5:
                    last_depth = time.monotonic()
                    self._update_depth()
            self._stop()
        finally:
            stop.set()
            loop.call_soon_threadsafe(loop.stop)
            looping.join()
            loop.close()
            self._blocking.shutdown(wait=True)
            listening.join()
            if sweeping is not None:
                sweeping.join(timeout=5)  # a batch in progress commits or rolls back
            if self._listener is not None:
                self._listener.close()
        log.info(
            "delivery worker stopped; attempts in flight finished "
            "(%d passes, %d claimed, %d found nothing)",
            self.passes,
            self.claimed,
            self.idle_passes,
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

    def _stop(self) -> None:
        """Attempts not begun give their job back; those in flight finish and are recorded,
        within one attempt's time."""
        self._stopping.set()
        deadline = time.monotonic() + self._config.timeout + 5
        unstarted: set[UUID] = set()
        while self._running and time.monotonic() < deadline:
            self._wake.wait(0.1)
            self._wake.clear()
            unstarted |= self._forget_dead()
            try:
                self.run_once(claiming=False)
            except Exception:
                time.sleep(0.2)
        unstarted |= self._forget_dead()
        if unstarted:
            try:
                with self._uow() as uow:
                    uow.jobs.release(unstarted)
                    uow.commit()
            except Exception:
                log.warning(
                    "could not give back %d jobs; their leases will run out", len(unstarted)
                )

    def _update_depth(self) -> None:
        try:
            with self._uow() as uow:
                self.queue_depth.set(uow.jobs.pending())
        except Exception:
            log.warning("could not read the queue depth", exc_info=True)
