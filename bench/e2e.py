"""End-to-end throughput on this machine: SMTP accepts/s and webhooks/s, SQLite default.

Starts `hookmail smtp` and `hookmail deliver` as processes on a fresh SQLite file, a receiver
(bench/sink.py) on 127.0.0.1, sends N messages of about 2 KB over several SMTP connections
(from processes of their own), and reports. CPU per message counts from the first send, once
every worker has started. All traffic stays on 127.0.0.1; the run is bounded by N and a
deadline.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import smtplib
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

from dependency_injector import providers

from hookmail.core.services.webhooks import WebhookInput
from hookmail.entrypoints.container import Container
from hookmail.entrypoints.settings import Settings

sys.path.insert(0, str(Path(__file__).parents[1]))
from bench.stores import fresh_store
from tests.integration.mail.conftest import free_port
from tests.receiver import wait_for
from tests.seed import public_webhooks, wait_smtp

PUBLIC = "bench.hookmail.test"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=1000)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--postgres", metavar="URL", help="run on PostgreSQL, in a new schema")
    parser.add_argument(
        "--workers", type=int, default=1, help="SMTP and delivery worker processes (each)"
    )
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="hookmail-bench-"))
    with fresh_store(folder, args.postgres) as database:
        ports = [free_port() for _ in range(args.workers)]
        body = ("x" * 75 + "\r\n") * 25  # about 2 KB in RFC-sized lines
        with _sink(folder) as target:
            settings = Settings(database_url=database, smtp_hostname="mx.bench")
            uow = Container(settings=providers.Object(settings)).uow
            # distinct recipients reach one webhook by +tag (a public domain has no catch-all)
            public_webhooks(
                uow, WebhookInput(address=f"u@{PUBLIC}", target_url=target.url), domain=PUBLIC
            )
            env = {
                **os.environ,
                "HOOKMAIL_DATABASE_URL": database,
                "HOOKMAIL_ALLOW_PRIVATE_TARGETS": "true",
                "HOOKMAIL_PUBLIC_DOMAINS": PUBLIC,
            }
            log = (folder / "workers.log").open("ab")
            kinds = [c for c in ("smtp", "deliver") if c in os.environ.get("BENCH_PROCS", c)]
            names = [f"{c}-{n}" for c in kinds for n in range(args.workers)]
            procs = [
                subprocess.Popen(
                    [sys.executable, "-m", "hookmail.entrypoints.cli", name.split("-")[0]],
                    env={**env, "HOOKMAIL_SMTP_PORT": str(ports[int(name.split("-")[1])])},
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
                for name in names
            ]
            try:
                for port in ports:
                    wait_smtp(port)
                _wait_started(folder / "workers.log", names)
                per = args.n // args.connections
                cpu_before = {
                    name: _cpu_seconds(proc.pid) for proc, name in zip(procs, names, strict=True)
                }
                started = time.perf_counter()
                # the senders in processes of their own, so that neither they nor the receiver
                # (in this process) wait for the other's GIL: the figures are the workers'
                shares = [list(range(i, args.connections, _SENDERS)) for i in range(_SENDERS)]
                shares = [share for share in shares if share]
                with ProcessPoolExecutor(_SENDERS) as senders:
                    list(senders.map(_send, [(ports, share, per, body) for share in shares]))
                accepted = time.perf_counter() - started
                total = per * args.connections
                if "deliver" not in os.environ.get("BENCH_PROCS", "deliver"):
                    print(f"SMTP durable accepts alone: {total / accepted:.0f}/s")
                    cpu = sum(
                        _cpu_seconds(p.pid) - cpu_before[n]
                        for p, n in zip(procs, names, strict=True)
                    )
                    cpu = cpu * 1000 / total
                    print(f"smtp worker CPU: {cpu:.2f} ms per message")
                    return
                wait_for(lambda: target.count() >= total, timeout=600, what="deliveries")
                delivered = time.perf_counter() - started
                time.sleep(1.0)  # a repeat would arrive now
                cpus = {
                    name: _cpu_seconds(proc.pid) - cpu_before[name]
                    for proc, name in zip(procs, names, strict=True)
                }
                for name, cpu in cpus.items():
                    print(f"{name} worker CPU: {cpu * 1000 / total:.2f} ms per message")
                print(f"all workers CPU: {sum(cpus.values()) * 1000 / total:.2f} ms per message")
                subjects = target.subjects()
                print(
                    f"delivered: {len(set(subjects))} distinct of {total}, repeats: "
                    f"{len(subjects) - len(set(subjects))}"
                )
            finally:
                for proc in procs:
                    proc.send_signal(signal.SIGTERM)
                    proc.wait(timeout=60)
                log.close()
                said = (folder / "workers.log").read_text()
                passes = re.findall(r"\((\d+) passes, (\d+) claimed, (\d+) found nothing\)", said)
                if passes:  # each delivery worker says how many store passes it made, at exit
                    made, moved, idle = (sum(int(p[i]) for p in passes) for i in (0, 1, 2))
                    print(
                        f"delivery store passes: {made}, {idle} of them idle ({moved} jobs claimed)"
                    )
    store = "PostgreSQL" if args.postgres else "SQLite"
    workers = f"{args.workers} SMTP + {args.workers} delivery worker(s)"
    print(
        f"messages: {total} of ~2 KB over {args.connections} SMTP connections, {store}, {workers}"
    )
    print(f"SMTP durable accepts: {total / accepted:.0f}/s ({accepted:.2f} s)")
    print(f"end to end (first send to last webhook): {total / delivered:.0f}/s ({delivered:.2f} s)")


class _Sink:
    """bench/sink.py in a process of its own."""

    def __init__(self, port: int, out: Path) -> None:
        self.url = f"http://127.0.0.1:{port}/hook"
        self._port, self._out = port, out
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("sink.py")), str(port), str(out)]
        )

    def count(self) -> int:
        with urllib.request.urlopen(f"http://127.0.0.1:{self._port}/_count", timeout=5) as r:
            return int(r.read())

    def subjects(self) -> list[str]:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)
        return list(json.loads(self._out.read_text()))


@contextlib.contextmanager
def _sink(folder: Path) -> Iterator[_Sink]:
    sink = _Sink(free_port(), folder / "sink.json")
    try:
        wait_for(_answers(sink), timeout=30, what="the sink")
        yield sink
    finally:
        if sink.process.poll() is None:
            sink.process.kill()
            sink.process.wait()


def _answers(sink: _Sink) -> Callable[[], bool]:
    def check() -> bool:
        try:
            sink.count()
        except OSError:
            return False
        return True

    return check


_SENDERS = 2  # sender processes (each with its share of the connections on threads)


def _send(job: tuple[list[int], list[int], int, str]) -> None:
    """One sender process: its connections, each on a thread, `per` messages each."""
    ports, connections, per, body = job

    def send(connection: int) -> None:
        port = ports[connection % len(ports)]  # connections spread over the SMTP workers
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
            for n in range(per):
                message = f"From: a@example.org\r\nSubject: {connection}-{n}\r\n\r\n{body}\r\n"
                client.sendmail("a@example.org", [f"u+{n}@{PUBLIC}"], message)

    with ThreadPoolExecutor(len(connections)) as pool:
        list(pool.map(send, connections))


def _wait_started(log: Path, names: list[str]) -> None:
    """Until every delivery worker has said it started (the SMTP ports answer already), so
    that no worker's start-up is in the measured time or CPU."""
    wanted = sum(1 for name in names if name.startswith("deliver"))
    wait_for(
        lambda: log.read_text(errors="replace").count("delivery worker started") >= wanted,
        timeout=60,
        what="delivery workers started",
    )


def _cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far (Linux /proc), a steadier figure than
    throughput on a shared machine."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


if __name__ == "__main__":
    threading.excepthook = lambda args: None
    main()
