"""What a stored message costs on disk, for docs/operations.md ("Retention").

Stores N messages of about 2 KB (a typical notification mail), each with one delivered job
and its attempt's log row, through the real repositories, on a fresh SQLite file (and with
`--postgres URL`, in a schema of its own on PostgreSQL), and prints the bytes each message
added: rows, indexes and (PostgreSQL) TOAST. Then sweeps them all with retention and shows
what the store keeps: SQLite reuses the freed pages (the file does not shrink without
VACUUM), PostgreSQL reuses the space after autovacuum.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from attrs import evolve
from sqlalchemy import Engine, text

from hookmail.adapters.memory import FixedClock
from hookmail.adapters.sql.engine import make_engine, make_sessions, migrate
from hookmail.adapters.sql.uow import SqlUnitOfWork
from hookmail.core.accounts import Account
from hookmail.core.deliveries import DeliveryJob, DeliveryLog, DeliveryStatus, JobStatus
from hookmail.core.domains import Domain, DomainName
from hookmail.core.mail import (
    AuthResults,
    DkimResult,
    Envelope,
    InboundMessage,
    SpfOutcome,
    received_header,
)
from hookmail.core.services import retention
from hookmail.core.services.retention import RetentionPolicy
from hookmail.core.webhooks import Address, Webhook, new_secret

NOW = datetime(2026, 4, 2, 12, 0, tzinfo=UTC)
TABLES = ("messages", "delivery_jobs", "delivery_logs")
_WORDS = [
    "the",
    "order",
    "shipment",
    "tracking",
    "number",
    "your",
    "account",
    "invoice",
    "payment",
    "received",
    "thank",
    "you",
    "please",
    "note",
    "that",
    "delivery",
    "address",
    "customer",
    "service",
    "update",
    "status",
    "pending",
    "confirmed",
    "warehouse",
    "parcel",
    "carrier",
    "estimated",
    "arrival",
    "monday",
    "tuesday",
    "wednesday",
    "reference",
    "item",
    "quantity",
    "price",
    "total",
    "tax",
    "discount",
    "code",
    "return",
    "policy",
    "contact",
    "support",
    "reply",
    "this",
    "email",
]


def _raw(n: int, size: int) -> bytes:
    head = (
        received_header(
            helo="mail.example.org", remote_ip="192.0.2.10", hostname="mx.hookmail.test", now=NOW
        )
        + (
            f"From: Alerts <alerts@example.org>\r\nTo: inbox@example.com\r\n"
            f"Subject: Order {n} shipped\r\nDate: Thu, 02 Apr 2026 12:00:00 +0000\r\n"
            f"Message-ID: <{uuid.uuid4().hex}@example.org>\r\nMIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\n"
        ).encode()
    )
    words = random.Random(n).choices(_WORDS, k=size // 5)  # noqa: S311 (text, not secrets)
    body = "\r\n".join(" ".join(words[i : i + 12]) for i in range(0, len(words), 12)).encode()
    return (head + body)[: size - 2] + b"\r\n"


def _setup(uow: SqlUnitOfWork) -> Webhook:
    account = Account.open(email="bench@example.com", password_hash="x", now=NOW)  # noqa: S106
    domain = evolve(
        Domain.claim(account_id=account.id, name=DomainName.parse("example.com"), now=NOW),
        verified=True,
    )
    webhook = Webhook.new(
        account_id=account.id,
        domain_id=domain.id,
        address=Address("inbox", domain.name),
        target_url="https://hooks.example.net/in",
        secret=new_secret(),
        now=NOW,
    )
    with uow:
        uow.accounts.add(account)
        uow.domains.save(domain)
        uow.webhooks.save(webhook)
        uow.commit()
    return webhook


def _store(uow: SqlUnitOfWork, webhook: Webhook, count: int, size: int) -> None:
    for start in range(0, count, 500):
        messages, jobs, logs = [], [], []
        for n in range(start, min(count, start + 500)):
            raw = _raw(n, size)
            message = InboundMessage.receive(
                raw=raw,
                envelope=Envelope(
                    mail_from="bounces+123@example.org",
                    rcpt_to=("inbox@example.com",),
                    remote_ip="192.0.2.10",
                    helo="mail.example.org",
                ),
                auth=AuthResults(
                    spf=SpfOutcome("pass", "example.org", "sender is authorized"),
                    dkim=(DkimResult("example.org", "pass"),),
                ),
                now=NOW + timedelta(seconds=n),
                message_id=f"<{n}@example.org>",
            )
            job = DeliveryJob.new(
                message_id=message.id,
                webhook_id=webhook.id,
                account_id=webhook.account_id,
                recipients=("inbox@example.com",),
                now=message.received_at,
            )
            messages.append(message)
            jobs.append(evolve(job, status=JobStatus.DELIVERED, attempts=1))
            logs.append(
                DeliveryLog.record(
                    webhook_id=webhook.id,
                    attempted_at=message.received_at,
                    duration_ms=35,
                    http_status=200,
                    error=None,
                    sender=message.envelope.mail_from,
                    smtp_message_id=message.message_id,
                    attempt=1,
                    status=DeliveryStatus.DELIVERED,
                    job_id=job.id,
                )
            )
        with uow:
            uow.messages.add_many(messages)
            uow.jobs.add_many(jobs)
            uow.delivery_logs.add_many(logs)
            uow.commit()


def _sqlite_bytes(engine: Engine) -> tuple[int, int]:
    """(bytes in use, free bytes) of the database file, the WAL checkpointed into it."""
    raw = engine.raw_connection()  # outside a transaction: a checkpoint can't run in one
    try:
        cursor = raw.cursor()
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        size, pages, free = (
            cursor.execute(f"PRAGMA {name}").fetchone()[0]
            for name in ("page_size", "page_count", "freelist_count")
        )
    finally:
        raw.close()
    return int((pages - free) * size), int(free * size)


def _pg_bytes(engine: Engine) -> tuple[int, int]:
    with engine.connect() as connection:
        total = sum(
            int(connection.execute(text(f"SELECT pg_total_relation_size('{t}')")).scalar_one())
            for t in TABLES
        )
    return total, 0


def _run(engine: Engine, count: int, size: int, measure: object) -> None:
    uow = SqlUnitOfWork(make_sessions(engine))
    webhook = _setup(uow)
    before, _ = measure()  # type: ignore[operator]
    started = time.monotonic()
    _store(uow, webhook, count, size)
    stored = time.monotonic() - started
    after, _ = measure()  # type: ignore[operator]
    per = (after - before) / count
    print(
        f"{engine.dialect.name}: {count} messages of {size} bytes (+ a job and a log row each) "
        f"took {after - before:,} bytes: {per:,.0f} bytes per message "
        f"({per * 100_000 / 1e6:,.0f} MB per 100 000 messages a day); stored in {stored:.1f} s"
    )
    started = time.monotonic()
    report = retention.sweep(
        uow, FixedClock(NOW + timedelta(days=31, seconds=count)), RetentionPolicy(batch=500)
    )
    swept = time.monotonic() - started
    used, free = measure()  # type: ignore[operator]
    print(
        f"  swept {report.messages} messages in {report.batches} batches, {swept:.2f} s; "
        f"in use after: {used:,} bytes, free pages kept for reuse: {free:,} bytes"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=10_000)
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--postgres", help="a PostgreSQL URL: measure there too")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{Path(folder) / 'hookmail.db'}")
        migrate(engine)
        _run(engine, args.n, args.size, lambda: _sqlite_bytes(engine))
        engine.dispose()
    if args.postgres:
        schema = f"hookmail_bench_{uuid.uuid4().hex[:8]}"
        admin = make_engine(args.postgres)
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        engine = make_engine(args.postgres, connect_args={"options": f"-csearch_path={schema}"})
        try:
            migrate(engine)
            _run(engine, args.n, args.size, lambda: _pg_bytes(engine))
        finally:
            engine.dispose()
            with admin.begin() as connection:
                connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()


if __name__ == "__main__":
    main()
