"""End-to-end throughput on this machine: SMTP accepts/s and webhooks/s, SQLite default.

Starts `hookmail smtp` and `hookmail deliver` as processes on a fresh SQLite file, a receiver
on 127.0.0.1, sends N messages of about 2 KB over several SMTP connections, and reports.
All traffic stays on 127.0.0.1; the run is bounded by N and a deadline.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import smtplib
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from dependency_injector import providers
from sqlalchemy import text

from hookmail.adapters.sql.engine import make_engine, migrate
from hookmail.core.services.webhooks import WebhookInput
from hookmail.entrypoints.container import Container
from hookmail.entrypoints.settings import Settings

sys.path.insert(0, str(Path(__file__).parents[1]))
from tests.integration.mail.conftest import free_port
from tests.receiver import receiver, wait_for
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
    database = f"sqlite:///{folder / 'bench.db'}"
    if args.postgres:
        schema = f"hookmail_bench_{uuid.uuid4().hex[:8]}"
        with make_engine(args.postgres).begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        database = f"{args.postgres}?options=-csearch_path%3D{schema}"
    migrate(make_engine(database))
    ports = [free_port() for _ in range(args.workers)]
    body = ("x" * 75 + "\r\n") * 25  # about 2 KB in RFC-sized lines
    with receiver() as target:
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
            per = args.n // args.connections
            started = time.perf_counter()

            def send(worker: int) -> None:
                port = ports[worker % len(ports)]  # connections spread over the SMTP workers
                with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
                    for n in range(per):
                        message = f"From: a@example.org\r\nSubject: {worker}-{n}\r\n\r\n{body}\r\n"
                        client.sendmail("a@example.org", [f"u+{n}@{PUBLIC}"], message)

            with ThreadPoolExecutor(args.connections) as pool:
                list(pool.map(send, range(args.connections)))
            accepted = time.perf_counter() - started
            total = per * args.connections
            if "deliver" not in os.environ.get("BENCH_PROCS", "deliver"):
                print(f"SMTP durable accepts alone: {total / accepted:.0f}/s")
                cpu = sum(_cpu_seconds(p.pid) for p in procs) * 1000 / total
                print(f"smtp worker CPU: {cpu:.2f} ms per message")
                return
            wait_for(lambda: len(target.received) >= total, timeout=600, what="deliveries")
            delivered = time.perf_counter() - started
            time.sleep(1.0)  # a repeat would arrive now
            cpus = {name: _cpu_seconds(proc.pid) for proc, name in zip(procs, names, strict=True)}
            for name, cpu in cpus.items():
                print(f"{name} worker CPU: {cpu * 1000 / total:.2f} ms per message")
            print(f"all workers CPU: {sum(cpus.values()) * 1000 / total:.2f} ms per message")
            subjects = [json.loads(b)["subject"] for b in target.bodies()]
            print(
                f"delivered: {len(set(subjects))} distinct of {total}, repeats: "
                f"{len(subjects) - len(set(subjects))}"
            )
        finally:
            for proc in procs:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=60)
    if args.postgres:
        with make_engine(args.postgres).begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    store = "PostgreSQL" if args.postgres else "SQLite"
    workers = f"{args.workers} SMTP + {args.workers} delivery worker(s)"
    print(
        f"messages: {total} of ~2 KB over {args.connections} SMTP connections, {store}, {workers}"
    )
    print(f"SMTP durable accepts: {total / accepted:.0f}/s ({accepted:.2f} s)")
    print(f"end to end (first send to last webhook): {total / delivered:.0f}/s ({delivered:.2f} s)")


def _cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far (Linux /proc), a steadier figure than
    throughput on a shared machine."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


if __name__ == "__main__":
    threading.excepthook = lambda args: None
    main()
