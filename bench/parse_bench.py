"""The cost of one default payload: `payload.parse` + `payload.build` + JSON encoding.

Prints microseconds per message (best of several rounds) for a 2 KB multipart/alternative
message, one with a 100 KB attachment, a 500 000-part MIME bomb and a 2 000-deep one; with
`--memory`, the tracemalloc peak of building the body of a 25 MiB message (mostly base64
attachments), the memory left after 12 of them in a row, and the peak RSS of one built in a
fresh process. In-process, no I/O.

    .venv/bin/python bench/parse_bench.py [--rounds 5] [--memory]

To compare with another tree, put its src first: PYTHONPATH=<tree>/src .venv/bin/python …
"""

from __future__ import annotations

import argparse
import base64
import gc
import importlib.util
import inspect
import json
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

from hookmail.core import payload
from hookmail.core.deliveries import DeliveryJob
from hookmail.core.mail import AuthResults, Envelope, InboundMessage

HEAD = (
    "Received: from mail.example.org (mail.example.org [203.0.113.5])\r\n"
    "\tby mx.hookmail.test with ESMTPS id 4Z2x; Tue, 1 Dec 2026 00:00:00 +0000\r\n"
    "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.org; s=s1;\r\n"
    "\th=from:to:subject:date:message-id; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;\r\n"
    "\tb=dzdVyOfAKCdLXdJOc9G2q8LoXSlEniSbav+yuU4zGeeruD00lszZVoG4ZHRNiYzR\r\n"
    "From: =?utf-8?q?Zo=C3=AB_Example?= <zoe@example.org>\r\n"
    "To: Inbox <in@example.com>, other@example.com\r\n"
    "Cc: Copy <copy@example.net>\r\n"
    "Reply-To: replies@example.org\r\n"
    "Subject: =?utf-8?q?R=C3=A9sum=C3=A9_attached?= and more\r\n"
    "Date: Tue, 01 Dec 2026 00:00:00 +0000\r\n"
    "Message-ID: <bench-1@example.org>\r\n"
    "MIME-Version: 1.0\r\n"
)


def _alternative(boundary: str) -> str:
    text = "Hello,\r\n\r\n" + "This is the plain text body of a typical message. " * 12 + "\r\n"
    html = "<html><body><p>" + "This is the <b>HTML</b> body. " * 18 + "</p></body></html>\r\n"
    return (
        f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n\r\n'
        f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"Content-Transfer-Encoding: 7bit\r\n\r\n{text}\r\n"
        f"--{boundary}\r\nContent-Type: text/html; charset=utf-8\r\n"
        f"Content-Transfer-Encoding: 7bit\r\n\r\n{html}\r\n"
        f"--{boundary}--\r\n"
    )


def _b64_lines(data: bytes) -> str:
    encoded = base64.b64encode(data).decode("ascii")
    return "".join(encoded[i : i + 76] + "\r\n" for i in range(0, len(encoded), 76))


def small() -> bytes:
    return (HEAD + _alternative("alt")).encode()


def with_attachments(sizes: list[int]) -> bytes:
    parts = [HEAD, 'Content-Type: multipart/mixed; boundary="mix"\r\n\r\n--mix\r\n']
    parts.append(_alternative("alt"))
    for n, size in enumerate(sizes):
        parts.append(
            f'\r\n--mix\r\nContent-Type: application/pdf; name="doc{n}.pdf"\r\n'
            f'Content-Disposition: attachment; filename="doc{n}.pdf"\r\n'
            f"Content-Transfer-Encoding: base64\r\n\r\n"
        )
        parts.append(_b64_lines(os.urandom(size)))
    parts.append("--mix--\r\n")
    return "".join(parts).encode()


def many_parts(count: int) -> bytes:
    head = b'From: a@example.org\r\nContent-Type: multipart/mixed; boundary="x"\r\n\r\n'
    return head + b"--x\r\n\r\n" * count + b"--x--\r\n"


def deep(depth: int) -> bytes:
    parts = [b"From: a@example.org\r\nTo: in@example.com\r\nSubject: bomb\r\n"]
    for n in range(depth):
        parts.append(f'Content-Type: multipart/mixed; boundary="b{n}"\r\n\r\n--b{n}\r\n'.encode())
    parts.append(b"Content-Type: text/plain\r\n\r\ndeep\r\n")
    parts.extend(f"--b{n}--\r\n".encode() for n in reversed(range(depth)))
    return b"".join(parts)


def _message(raw: bytes) -> tuple[InboundMessage, DeliveryJob]:
    now = datetime.now(UTC)
    message = InboundMessage.receive(
        raw=raw,
        envelope=Envelope(
            mail_from="zoe@example.org",
            rcpt_to=("in@example.com",),
            remote_ip="203.0.113.5",
            helo="mail.example.org",
        ),
        auth=AuthResults(),
        now=now,
        message_id=None,
    )
    ids: dict[str, Any] = {"message_id": message.id, "webhook_id": uuid4()}
    if "account_id" in inspect.signature(DeliveryJob.new).parameters:  # older trees: none
        ids["account_id"] = uuid4()
    job = DeliveryJob.new(**ids, recipients=("in@example.com",), now=now)
    return message, job


def _encoder() -> Callable[[dict[str, Any]], bytes]:
    encode = getattr(payload, "encode", None)
    if encode is not None:
        return encode  # type: ignore[no-any-return]
    return lambda data: json.dumps(data, ensure_ascii=False).encode("utf-8")


def body_of(raw: bytes) -> bytes:
    message, job = _message(raw)
    return _encoder()(payload.build(message, job, payload.parse(message.raw)))


def timed(raw: bytes, rounds: int, work: Callable[[bytes], object] = body_of) -> float:
    """Best µs per `work(raw)` over `rounds` rounds of enough repeats to last ~0.2 s."""
    start = time.perf_counter()
    work(raw)
    once = time.perf_counter() - start
    repeats = max(1, min(2000, int(0.2 / max(once, 1e-6))))
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(repeats):
            work(raw)
        best = min(best, (time.perf_counter() - start) / repeats)
    return best * 1e6


def memory() -> None:
    raw = with_attachments([6 * 1024 * 1024] * 3)  # ~25 MiB on the wire, base64
    print(f"25 MiB message: {len(raw) / 2**20:.1f} MiB raw")
    message, job = _message(raw)
    gc.collect()
    tracemalloc.start()
    body = _encoder()(payload.build(message, job, payload.parse(message.raw)))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        f"  body {len(body) / 2**20:.1f} MiB; peak while building {peak / 2**20:.1f} MiB "
        f"= {peak / len(raw):.2f}x the message (the raw message itself not counted)"
    )
    del body
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for _ in range(12):
        message, job = _message(raw)
        body = _encoder()(payload.build(message, job, payload.parse(message.raw)))
        del body, message, job
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    print(f"  12 in a row: {(after - before) / 2**20:+.2f} MiB still allocated afterwards")


def rss() -> None:
    """The same 25 MiB body built in a fresh process, measured by its peak RSS (VmHWM):
    what the delivery process really holds, allocator and all."""
    raw = with_attachments([6 * 1024 * 1024] * 3)
    with tempfile.NamedTemporaryFile(suffix=".eml") as file:
        file.write(raw)
        file.flush()
        child = subprocess.run(
            [sys.executable, __file__, "--rss-child", file.name],
            capture_output=True,
            text=True,
            check=True,
        )
    print(child.stdout, end="")


def _rss_child(path: str) -> None:
    def peak() -> int:  # VmHWM, not ru_maxrss: that one keeps the parent's across exec
        with open("/proc/self/status") as status:
            line = next(line for line in status if line.startswith("VmHWM:"))
        return int(line.split()[1]) * 1024

    start = peak()
    with open(path, "rb") as file:
        raw = file.read()
    loaded = peak()
    body = body_of(raw)
    built = peak()
    size = len(raw)
    print(
        f"25 MiB message in a fresh process: peak RSS +{(built - start) / 2**20:.1f} MiB "
        f"= {(built - start) / size:.2f}x the message with it, "
        f"{(built - loaded) / size:.2f}x besides it (body {len(body) / 2**20:.1f} MiB)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--memory", action="store_true")
    parser.add_argument("--rss-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss_child:
        _rss_child(args.rss_child)
        return
    cases = [
        ("2 KB multipart/alternative", small()),
        ("100 KB attachment", with_attachments([100 * 1024])),
        ("1 000 empty parts", many_parts(1000)),
        ("500 000 empty parts", many_parts(500_000)),
        ("2 000 deep", deep(2000)),
    ]
    for name, raw in cases:
        rounds = args.rounds if len(raw) < 1_000_000 else 1
        print(f"{name:30} {len(raw):>9} B  {timed(raw, rounds):>12.1f} µs/message")
    if importlib.util.find_spec("hookmail.core.reply") is not None:
        raw = small()
        text = payload.parse(raw)["text"]
        from hookmail.core import reply  # here: older trees have no reply module

        alone = timed(raw, args.rounds, lambda _: reply.reply_text(text))
        print(f"{'  of which reply_text (2 KB)':30} {'':>9}    {alone:>12.1f} µs/message")
    if args.memory:
        memory()
        rss()


if __name__ == "__main__":
    main()
