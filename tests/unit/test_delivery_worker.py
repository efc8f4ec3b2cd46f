"""The delivery worker's stop (SPEC §5, at-least-once): jobs it claimed but whose attempt had
not begun when it was told to stop are given back at once, not left to their lease; the
attempt in flight finishes and is recorded. On the in-memory store, with an async transport
whose first POST holds the worker's event loop, so the others are claimed but can't begin."""

from __future__ import annotations

import asyncio
import threading
import time

from attrs import evolve

from hookmail.core.deliveries import JobStatus
from hookmail.core.ports import HttpOutcome
from hookmail.entrypoints.deliver import DeliveryWorker
from tests.unit.test_delivery_service import CONFIG, Store


class AsyncOnly:
    """A transport the worker must use on its event loop only."""

    def post(
        self, url: str, *, headers: dict[str, str], body: bytes, timeout: float
    ) -> HttpOutcome:
        raise AssertionError("the worker posts on its event loop")


class HoldingTransport(AsyncOnly):
    """Answers 200; the first POST blocks the event loop until released."""

    def __init__(self) -> None:
        self.posted: list[str] = []
        self.holding = threading.Event()
        self.release = threading.Event()

    async def post_async(
        self, url: str, *, headers: dict[str, str], body: bytes, timeout: float
    ) -> HttpOutcome:
        self.posted.append(headers["webhook-id"])
        if len(self.posted) == 1:
            self.holding.set()
            self.release.wait(10)  # blocks the loop: nothing else on it can begin
        return HttpOutcome(200)


def _until(condition: object, what: str) -> None:
    deadline = time.monotonic() + 10
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.01)


def test_claimed_jobs_not_begun_are_given_back_when_the_worker_stops() -> None:
    store = Store()
    hook = store.webhook()
    jobs = store.mail(hook, count=5)
    transport = HoldingTransport()
    worker = DeliveryWorker(lambda: store.uow, store.clock, transport, CONFIG, poll_interval=0.02)
    stop = threading.Event()
    running = threading.Thread(target=worker.run, args=(stop,))
    running.start()
    assert transport.holding.wait(10), "the first attempt began"
    assert worker.claimed == 5  # all five claimed in one pass, one of them in flight
    stop.set()
    _until(lambda: worker.stopping, "the worker began to stop")
    transport.release.set()
    running.join(10)
    assert not running.is_alive()

    states = {job.id: store.job(job) for job in jobs}
    delivered = [j for j in states.values() if j.status is JobStatus.DELIVERED]
    assert len(transport.posted) == 1  # nothing began after the stop
    assert len(delivered) == 1  # the attempt in flight finished and was recorded
    assert delivered[0].event_id == transport.posted[0]
    given_back = [j for j in states.values() if j.status is JobStatus.PENDING]
    assert len(given_back) == 4
    assert all(j.claimed_until is None and j.attempts == 0 for j in given_back)
    assert len(store.logs(hook)) == 1


class GateTransport(AsyncOnly):
    """Answers 200 once opened; until then its attempts wait on the worker's event loop
    without holding it. Counts the attempts begun."""

    def __init__(self) -> None:
        self.begun = 0
        self._waiting: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []
        self._open = False
        self._lock = threading.Lock()

    async def post_async(
        self, url: str, *, headers: dict[str, str], body: bytes, timeout: float
    ) -> HttpOutcome:
        self.begun += 1
        opened = asyncio.Event()
        with self._lock:
            if self._open:
                opened.set()
            else:
                self._waiting.append((asyncio.get_running_loop(), opened))
        await opened.wait()
        return HttpOutcome(200)

    def open(self) -> None:
        with self._lock:
            self._open = True
            for loop, opened in self._waiting:
                loop.call_soon_threadsafe(opened.set)


def test_each_worker_gives_a_busy_webhook_its_share_of_its_own_capacity() -> None:
    # per_webhook=2: alone, a worker has two of the webhook's attempts in flight; a second
    # worker on the same store adds two more (a share of each worker's capacity), and when
    # they are done, the next are claimed
    store = Store()
    hook = store.webhook()
    jobs = store.mail(hook, count=10)
    config = evolve(CONFIG, per_webhook=2)
    transports = [GateTransport(), GateTransport()]
    workers = [
        DeliveryWorker(lambda: store.uow, store.clock, t, config, concurrency=8, poll_interval=0.02)
        for t in transports
    ]
    stop = threading.Event()
    threads = [threading.Thread(target=w.run, args=(stop,)) for w in workers]
    try:
        threads[0].start()
        _until(lambda: transports[0].begun == 2, "the first worker began its share")
        time.sleep(0.2)  # passes go by: no more of the webhook's jobs for it
        assert transports[0].begun == 2
        threads[1].start()
        _until(lambda: transports[1].begun == 2, "the second worker began its share")
        time.sleep(0.2)
        assert [t.begun for t in transports] == [2, 2]
        for transport in transports:
            transport.open()
        _until(
            lambda: all(store.job(j).status is JobStatus.DELIVERED for j in jobs),
            "all delivered, each once",
        )
    finally:
        stop.set()
        for transport in transports:
            transport.open()
        for thread in threads:
            if thread.is_alive():
                thread.join(10)
    assert sum(t.begun for t in transports) == 10  # each job once: no claim lost
