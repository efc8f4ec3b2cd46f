"""Wake-ups between processes sharing one store: "new jobs" and "routes changed".

Workers must learn of new mail at once, not by polling (SPEC: polling is only the fallback):
- PostgreSQL: `NOTIFY` in the committing transaction (delivered only if it commits) and
  `LISTEN` on a connection of its own, so workers on any number of machines hear it.
- SQLite (one machine by nature): a datagram on a UNIX socket per listening process, in a
  directory named after the database file. Sending costs one `sendto` per listener, and a
  listener can ask "anything since I last looked?" with one non-blocking `recv`, which makes
  the SMTP worker's route cache exact: the API sends its notice before it answers, so a
  RCPT that follows the answer always sees it.

Notices are hints: losing one delays work by at most the poll interval, never loses it.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import select
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

log = logging.getLogger("hookmail.notify")

JOBS = "jobs"
ROUTES = "routes"
CHANNELS = (JOBS, ROUTES)
_PG_PREFIX = "hookmail_"


class Listener(Protocol):
    def wait(self, timeout: float) -> bool:
        """Block until a notice arrives or `timeout` passes; True if one arrived."""
        ...

    def poll(self) -> bool:
        """Without blocking: did a notice arrive since the last wait() or poll()?"""
        ...

    def close(self) -> None: ...


def socket_directory(database_url: str) -> Path:
    """Where the listeners of one SQLite file put their sockets: short (a socket path has
    at most 107 bytes) and the same for every process opening that file."""
    database = make_url(database_url).database or ""
    key = hashlib.sha256(os.path.abspath(database).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"hookmail-{key}"


# A listing of the socket directory is trusted only once its last change is this old: a
# directory's mtime has the kernel's coarse clock, so a socket bound within the same tick
# as an earlier change would leave the mtime as it was.
_SETTLED_NS = 1_000_000_000


class SocketNotifier:
    """SQLite: a datagram to every listening process of the channel."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sender.setblocking(False)
        self._lock = threading.Lock()
        # (the directory's mtime, whether it had settled, its socket names): a group commit
        # sends a notice each time, and listeners come and go only with their processes
        self._listing: tuple[int, bool, list[str]] | None = None

    def _names(self) -> list[str]:
        changed = os.stat(self._directory).st_mtime_ns
        listing = self._listing
        if listing is None or listing[0] != changed or not listing[1]:
            settled = time.time_ns() - changed >= _SETTLED_NS
            listing = (changed, settled, os.listdir(self._directory))
            self._listing = listing
        return listing[2]

    def notify(self, channels: Iterable[str]) -> None:
        try:
            names = self._names()
        except OSError:
            return
        for channel in channels:
            for name in names:
                if not (name.startswith(f"{channel}.") and name.endswith(".sock")):
                    continue
                target = os.path.join(self._directory, name)
                try:
                    with self._lock:
                        self._sender.sendto(b"!", target)
                except (ConnectionRefusedError, FileNotFoundError):
                    with contextlib.suppress(OSError):  # its process is gone
                        os.unlink(target)
                except OSError:
                    pass  # a full buffer already holds a notice: nothing is lost

    def listen(self, channel: str) -> SocketListener:
        return SocketListener(self._directory, channel)


class SocketListener:
    def __init__(self, directory: Path, channel: str) -> None:
        directory.mkdir(mode=0o700, exist_ok=True)
        self.path = directory / f"{channel}.{os.getpid()}.{uuid.uuid4().hex[:8]}.sock"
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._socket.bind(str(self.path))
        self._socket.setblocking(False)

    def _drain(self) -> bool:
        got = False
        while True:
            try:
                self._socket.recv(64)
            except (BlockingIOError, InterruptedError):
                return got
            except OSError:
                return got
            got = True

    def poll(self) -> bool:
        return self._drain()

    def wait(self, timeout: float) -> bool:
        if self._drain():
            return True
        with contextlib.suppress(OSError, ValueError):
            select.select([self._socket], [], [], timeout)
        return self._drain()

    def close(self) -> None:
        self._socket.close()
        with contextlib.suppress(OSError):
            self.path.unlink()


class PgNotifier:
    """PostgreSQL: the store's own NOTIFY, sent by the unit of work inside the transaction
    (see SqlUnitOfWork), so there is nothing to do after commit."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def notify(self, channels: Iterable[str]) -> None:
        """Outside a transaction (rarely needed): one short one."""
        with self._engine.begin() as connection:
            for channel in channels:
                connection.execute(text("SELECT pg_notify(:c, '')"), {"c": _PG_PREFIX + channel})

    def listen(self, channel: str) -> PgListener:
        return PgListener(self._engine, channel)


class PgListener:
    """LISTEN on a connection of its own; a thread turns notices into a flag."""

    def __init__(self, engine: Engine, channel: str) -> None:
        self._engine = engine
        self._channel = _PG_PREFIX + channel
        self._event = threading.Event()
        self._closed = threading.Event()
        self.ready = threading.Event()  # set once LISTEN is in place
        self._thread = threading.Thread(
            target=self._run, name=f"hookmail-listen-{channel}", daemon=True
        )
        self._thread.start()

    def _run(self) -> None:
        while not self._closed.is_set():
            try:
                raw = self._engine.raw_connection()
                try:
                    dbapi = raw.driver_connection
                    if dbapi is None:
                        raise RuntimeError("no driver connection")
                    dbapi.autocommit = True
                    dbapi.execute(f"LISTEN {self._channel}")
                    self._event.set()  # (re)connected: whatever happened meanwhile is due
                    self.ready.set()
                    while not self._closed.is_set():
                        for _ in dbapi.notifies(timeout=1.0, stop_after=1):
                            self._event.set()
                finally:
                    raw.invalidate()
            except Exception:
                log.warning("listening for %s failed; retrying", self._channel, exc_info=True)
                self._closed.wait(1.0)

    def poll(self) -> bool:
        if self._event.is_set():
            self._event.clear()
            return True
        return False

    def wait(self, timeout: float) -> bool:
        self._event.wait(timeout)
        return self.poll()

    def close(self) -> None:
        self._closed.set()


Notifier = SocketNotifier | PgNotifier


def notifier_for(engine: Engine) -> Notifier:
    if engine.dialect.name == "postgresql":
        return PgNotifier(engine)
    return SocketNotifier(socket_directory(str(engine.url)))


def pg_notify(channel: str) -> tuple[str, list[str]]:
    """The NOTIFY of a transaction's notice, as plain SQL with `?` placeholders
    (adapters/sql/raw.py: sent with the transaction's COMMIT)."""
    return "SELECT pg_notify(?, '')", [_PG_PREFIX + channel]
