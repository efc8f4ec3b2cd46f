"""CPU of one delivery store pass, alone: record K attempts and claim K jobs (the pass the
delivery worker makes under load), on SQLite or PostgreSQL, from a backlog of N jobs.
Prints the thread CPU per pass and per job, median of 5 rounds. Nothing is sent."""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from dependency_injector import providers

from hookmail.core.deliveries import DeliveryJob
from hookmail.core.mail import AuthResults, Envelope, InboundMessage
from hookmail.core.ports import HttpOutcome
from hookmail.core.services import delivery, inbound
from hookmail.core.services.webhooks import WebhookInput
from hookmail.entrypoints.container import Container
from hookmail.entrypoints.settings import Settings

sys.path.insert(0, str(Path(__file__).parents[1]))
from bench.stores import fresh_store
from tests.seed import public_webhooks

PUBLIC = "bench.hookmail.test"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=3000, help="jobs in the backlog")
    parser.add_argument("-k", type=int, default=8, help="jobs recorded and claimed a pass")
    parser.add_argument("--postgres", metavar="URL")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="hookmail-pass-"))
    with fresh_store(folder, args.postgres) as database:
        container = Container(settings=providers.Object(Settings(database_url=database)))
        uow, clock = container.uow, container.clock()
        (hook,) = public_webhooks(
            uow,
            WebhookInput(address=f"u@{PUBLIC}", target_url="http://127.0.0.1:9/"),
            domain=PUBLIC,
        )
        body = b"Subject: x\r\n\r\n" + (b"x" * 75 + b"\r\n") * 25
        for start in range(0, args.n, 200):
            batch = []
            for _ in range(min(200, args.n - start)):
                message = InboundMessage.receive(
                    raw=body,
                    envelope=Envelope(
                        mail_from="a@example.org",
                        rcpt_to=(f"u@{PUBLIC}",),
                        remote_ip="::1",
                        helo="h",
                    ),
                    auth=AuthResults(),
                    now=clock.now(),
                    message_id="<m@example.org>",
                )
                job = DeliveryJob.new(
                    message_id=message.id,
                    webhook_id=hook.id,
                    account_id=hook.account_id,
                    recipients=(f"u@{PUBLIC}",),
                    now=clock.now(),
                )
                batch.append(inbound.Prepared(message, (job,), ()))
            inbound.commit_prepared(uow(), batch)
        config = delivery.DeliveryConfig()
        finished: list[delivery.Attempt] = []
        rounds = []
        passes = args.n // args.k // 5
        for _ in range(5):
            cpu = time.thread_time()
            for _ in range(passes):
                work = delivery.claim(
                    uow(), clock, config, limit=args.k, finished=finished, held={}
                )
                finished = [
                    delivery.finish(clock, config, w, clock.now(), HttpOutcome(200)) for w in work
                ]
            rounds.append((time.thread_time() - cpu) / passes)
        per_pass = statistics.median(rounds)
        store = "PostgreSQL" if args.postgres else "SQLite"
        print(
            f"{store}: {per_pass * 1e3:.3f} ms CPU a pass of {args.k} "
            f"({per_pass * 1e3 / args.k:.3f} ms a job); rounds "
            + " ".join(f"{r * 1e3:.2f}" for r in rounds)
        )


if __name__ == "__main__":
    main()
