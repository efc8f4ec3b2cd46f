"""CPU cost per message of what the delivery worker does for a payload: `payload.parse`
(and its `reply_text`), then `build_request` (formats.build, JSON encoding, the signature).

Three messages: (a) the 2 KB plain-text message of the SMTP bench (blast.py's), (b) a 2 KB
reply with quoted history and a signature, (c) a multipart/mixed message with a 2 KB text
part and an 8 KB base64 attachment (blast.py --attach-size). Prints the best µs per call
over several rounds, in CPU time (the machine is shared). In-process, no I/O.

    PYTHONPATH=src .venv/bin/python bench/parse_cost.py [--rounds 7]
"""

from __future__ import annotations

import argparse
import base64
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime

from hookmail.core import payload, reply
from hookmail.core.accounts import Account
from hookmail.core.deliveries import DeliveryJob
from hookmail.core.domains import Domain, DomainName
from hookmail.core.mail import AuthResults, Envelope, InboundMessage
from hookmail.core.services.delivery import DeliveryConfig, Work, build_request
from hookmail.core.webhooks import Address, Webhook, new_secret

NOW = datetime(2026, 4, 2, 12, 0, tzinfo=UTC)
LINE = b"The quick brown fox jumps over the lazy dog; 0123456789 ABCDEFGHIJKLMNOPQRST.\r\n"
HEAD = (
    b"Message-ID: <bench-1a2b3c4d-17@bench.local>\r\nX-Bench-Sent: 1767225600.123456\r\n"
    b"From: Bench Sender <sender@bench.local>\r\nTo: <rcpt@bench.local>\r\n"
    b"Subject: bench message\r\nDate: Mon, 01 Jan 2024 00:00:00 +0000\r\nMIME-Version: 1.0\r\n"
)


def blast(size: int = 2048, attach_size: int = 0) -> bytes:
    """blast.py's message (build_tail), with its per-message headers, without the `.`."""
    text = LINE * max(1, size // len(LINE))
    if not attach_size:
        return HEAD + b"Content-Type: text/plain; charset=us-ascii\r\n\r\n" + text
    data = random.Random(1).randbytes(attach_size * 3 // 4)  # noqa: S311 (test data)
    b64 = base64.encodebytes(data).replace(b"\n", b"\r\n")
    return (
        HEAD + b'Content-Type: multipart/mixed; boundary="BENCHBOUNDARY"\r\n\r\n'
        b"--BENCHBOUNDARY\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
        + text
        + b"--BENCHBOUNDARY\r\nContent-Type: application/octet-stream\r\n"
        b'Content-Disposition: attachment; filename="bench.bin"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n" + b64 + b"--BENCHBOUNDARY--\r\n"
    )


def quoted_reply() -> bytes:
    new = (
        "Hi Alice,\r\n\r\nThanks for the update. I went through the figures and they look "
        "right to me;\r\nlet's go ahead with the plan we discussed on Monday.\r\n\r\n"
        "Best regards,\r\nBob\r\n\r\n"
    )
    quoted = "".join(
        f"> {line}\r\n"
        for line in (
            ["Hi Bob,", ""]
            + ["Here are the figures for the third quarter, as promised last week."] * 12
            + ["", "Alice", ""]
            + ["> An older line of the thread, quoted twice by now, as threads go."] * 8
        )
    )
    text = new + "On Mon, 3 Mar 2025 at 14:02, Alice Example <alice@example.org> wrote:\r\n"
    return (
        HEAD.replace(b"Subject: bench message", b"Subject: Re: Q3 figures")
        + b"In-Reply-To: <q3@example.org>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        + (text + quoted).encode()
    )


def _work(raw: bytes) -> Work:
    account = Account.open(email="bench@example.com", password_hash="plain$x", now=NOW)  # noqa: S106
    domain = Domain.claim(account_id=account.id, name=DomainName.parse("bench.local"), now=NOW)
    webhook = Webhook.new(
        account_id=account.id,
        domain_id=domain.id,
        address=Address("rcpt", domain.name),
        target_url="https://hooks.example.net/in",
        secret=new_secret(),
        now=NOW,
    )
    message = InboundMessage.receive(
        raw=raw,
        envelope=Envelope(
            mail_from="sender@bench.local",
            rcpt_to=("rcpt@bench.local",),
            remote_ip="203.0.113.5",
            helo="bench.local",
        ),
        auth=AuthResults(),
        now=NOW,
        message_id=None,
    )
    job = DeliveryJob.new(
        account_id=account.id,
        message_id=message.id,
        webhook_id=webhook.id,
        recipients=("rcpt@bench.local",),
        now=NOW,
    )
    return Work(job=job, message=message, webhook=webhook, timezone="UTC")


def timed(work: Callable[[], object], rounds: int) -> float:
    """Best µs per call over `rounds` rounds of enough calls to last ~0.2 s."""
    start = time.process_time()
    work()
    once = time.process_time() - start
    repeats = max(1, min(20000, int(0.2 / max(once, 1e-7))))
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        for _ in range(repeats):
            work()
        best = min(best, (time.process_time() - start) / repeats)
    return best * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    config = DeliveryConfig()
    cases = [
        ("(a) blast 2 KB plain", blast()),
        ("(b) reply, quoted history", quoted_reply()),
        ("(c) 2 KB + 8 KB attachment", blast(attach_size=8192)),
    ]
    print(f"{'':30} {'bytes':>6} {'parse':>8} {'reply':>8} {'build':>8}  (µs per call)")
    for name, raw in cases:
        work = _work(raw)
        parsed = payload.parse(raw)
        text = parsed["text"]
        parse = timed(lambda raw=raw: payload.parse(raw), args.rounds)  # type: ignore[misc]
        alone = timed(lambda text=text: reply.reply_text(text), args.rounds)  # type: ignore[misc]
        build = timed(
            lambda work=work, parsed=parsed: build_request(work, parsed, config, NOW),  # type: ignore[misc]
            args.rounds,
        )
        print(f"{name:30} {len(raw):>6} {parse:>8.1f} {alone:>8.1f} {build:>8.1f}")


if __name__ == "__main__":
    main()
