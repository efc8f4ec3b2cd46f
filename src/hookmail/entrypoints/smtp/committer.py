"""Group commit: concurrent SMTP sessions share one transaction (and one fsync).

Each session still gets its 250 only after the batch holding its message is committed. If a
batch fails, its messages are retried one by one, so one bad message fails alone (451).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future

from hookmail.core.ports import UnitOfWork
from hookmail.core.services.inbound import Prepared, commit_prepared

log = logging.getLogger("hookmail.smtp.commit")
_Item = tuple[Prepared, "Future[None]"]


class GroupCommitter:
    def __init__(self, uow: Callable[[], UnitOfWork], *, max_batch: int = 256) -> None:
        self._uow = uow
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="hookmail-commit", daemon=True)
        self._thread.start()

    def submit(self, prepared: Prepared) -> Future[None]:
        """A future that completes once `prepared` is durably committed (or fails)."""
        done: Future[None] = Future()
        self._queue.put((prepared, done))
        return done

    def close(self) -> None:
        """Commit what was submitted, then stop."""
        self._queue.put(None)
        self._thread.join(timeout=60)

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self._max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                batch.append(item)
            self._commit(batch)

    def _commit(self, batch: list[_Item]) -> None:
        try:
            commit_prepared(self._uow(), [prepared for prepared, _ in batch])
        except Exception:
            if len(batch) > 1:
                log.warning("a batch of %d failed; committing one by one", len(batch))
                for item in batch:
                    self._commit([item])
                return
            log.exception("committing a message failed")
            batch[0][1].set_exception(RuntimeError("the store refused the message"))
            return
        for _, done in batch:
            done.set_result(None)
