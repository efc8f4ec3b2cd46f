"""hookmail worker processes for tests that stop, kill or measure them: `hookmail smtp` and
`hookmail deliver` as separate processes over one store, as `serve` runs them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dependency_injector import providers

from hookmail.adapters.sql.engine import make_engine, migrate
from hookmail.core.ports import UnitOfWork
from hookmail.entrypoints.container import Container
from hookmail.entrypoints.settings import Settings
from tests.integration.mail.conftest import free_port
from tests.seed import PUBLIC


class Workers:
    """The environment of a hookmail over a SQLite file (or `database`); spawns its workers,
    logging to one file, and ends them all at the end of the `workers()` block."""

    def __init__(self, tmp_path: Path, database: str | None = None, **env: str) -> None:
        self.database = database or f"sqlite:///{tmp_path / 'hookmail.db'}"
        if database is None:  # a given store is migrated (and emptied) by its fixture
            engine = make_engine(self.database)
            migrate(engine)
            engine.dispose()
        self.port = free_port()
        self.log = tmp_path / "workers.log"
        self.env = {
            **os.environ,
            "HOOKMAIL_DATABASE_URL": self.database,
            "HOOKMAIL_SMTP_PORT": str(self.port),
            "HOOKMAIL_SMTP_AUTH_REQUIRE_TLS": "false",
            "HOOKMAIL_ALLOW_PRIVATE_TARGETS": "true",
            "HOOKMAIL_PUBLIC_DOMAINS": PUBLIC,
            **{f"HOOKMAIL_{name.upper()}": value for name, value in env.items()},
        }
        self.spawned: list[subprocess.Popen[bytes]] = []
        self.container = Container(
            settings=providers.Object(Settings(database_url=self.database, smtp_hostname="mx"))
        )

    def uow(self) -> UnitOfWork:
        return self.container.uow()

    def spawn(self, command: str) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [sys.executable, "-m", "hookmail.entrypoints.cli", command],
            env=self.env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
        )
        self.spawned.append(process)
        return process

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def end(self) -> None:
        for process in self.spawned:
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                process.wait(timeout=10)
        self.container.engine().dispose()


@contextmanager
def workers(tmp_path: Path, database: str | None = None, **env: str) -> Iterator[Workers]:
    spawned = Workers(tmp_path, database, **env)
    try:
        yield spawned
    finally:
        spawned.end()


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of a process, in KiB, from /proc/<pid>/status."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            found[name] = int(value.split()[0])
    return found
