"""Memory per message: a 25 MiB message through `hookmail smtp` and `hookmail deliver` (fresh
processes) raises neither's peak RSS (VmHWM) by more than 4x its size, and 12 of them in a row
leave the delivery worker's RSS where the first left it (+-20 MB): nothing parsed is kept."""

from __future__ import annotations

import base64
import json
import os
import smtplib
from pathlib import Path

import pytest

from hookmail.core.services.webhooks import WebhookInput
from tests.integration.mail.processes import memory_kib, workers
from tests.receiver import Receiver, receiver, wait_for
from tests.seed import PUBLIC, public_webhooks, wait_smtp

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

LIMIT = 25 * 2**20  # MAX_MESSAGE_BYTES
MiB = 2**20


def _message(n: int) -> bytes:
    """A message just under 25 MiB: a short text and a random (incompressible) attachment."""
    head = (
        f"From: a@example.org\r\nTo: inbox@{PUBLIC}\r\nSubject: big {n}\r\n"
        'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\nSee the attachment.\r\n"
        "--b\r\nContent-Type: application/octet-stream\r\n"
        'Content-Disposition: attachment; filename="big.bin"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n"
    ).encode()
    tail = b"\r\n--b--\r\n"
    room = LIMIT - 64 * 1024 - len(head) - len(tail)
    data = os.urandom(room // 78 * 57)  # 76 base64 characters and CRLF a line
    encoded = base64.encodebytes(data).replace(b"\n", b"\r\n")
    raw = head + encoded + tail
    assert LIMIT - 128 * 1024 < len(raw) <= LIMIT
    return raw


def _send(port: int, raw: bytes) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=120) as client:
        assert client.sendmail("a@example.org", [f"inbox@{PUBLIC}"], raw) == {}


def _arrived(target: Receiver, subject: str) -> None:
    def done() -> bool:
        with target.lock:
            bodies = [r.body for r in target.received]
            target.received.clear()  # the test process keeps none of them
        for body in bodies:
            payload = json.loads(body)
            assert payload["subject"] == subject
            return True
        return False

    wait_for(done, timeout=120, what=f"{subject} delivered")


def _let_go(pid: int, settled: int) -> int:
    """The worker's RSS once it has let the last message go. The target has the POST a
    moment before the worker has its answer and drops the body: wait for that (a message
    kept would never come back within 20 MiB of the settled RSS)."""
    wait_for(
        lambda: memory_kib(pid)["VmRSS"] <= settled + 20 * 1024,
        timeout=10,
        what="the delivery worker letting the message go",
    )
    return memory_kib(pid)["VmRSS"]


@pytest.mark.timeout(600)
def test_a_25_mib_message_costs_at_most_4x_its_size_and_nothing_is_kept(tmp_path: Path) -> None:
    with receiver() as target, workers(tmp_path, delivery_timeout="60") as run:
        public_webhooks(run.uow, WebhookInput(address=f"inbox@{PUBLIC}", target_url=target.url))
        smtp, deliver = run.spawn("smtp"), run.spawn("deliver")
        wait_smtp(run.port)
        _send(run.port, b"Subject: warm-up\r\n\r\nhello\r\n")  # imports and first use done
        _arrived(target, "warm-up")
        smtp_before, deliver_before = memory_kib(smtp.pid), memory_kib(deliver.pid)

        raw = _message(0)
        size_kib = len(raw) // 1024
        _send(run.port, raw)
        _arrived(target, "big 0")
        smtp_after, deliver_after = memory_kib(smtp.pid), memory_kib(deliver.pid)
        settled = _let_go(deliver.pid, deliver_before["VmRSS"])
        rss = [settled]
        for n in range(1, 12):
            _send(run.port, _message(n))
            _arrived(target, f"big {n}")
            rss.append(_let_go(deliver.pid, settled))
    smtp_peak = smtp_after["VmHWM"] - smtp_before["VmHWM"]
    deliver_peak = deliver_after["VmHWM"] - deliver_before["VmHWM"]
    print(
        f"message {len(raw) / MiB:.2f} MiB; SMTP worker peak RSS {smtp_before['VmHWM'] // 1024}"
        f" -> {smtp_after['VmHWM'] // 1024} MiB (+{smtp_peak / size_kib:.2f}x); delivery worker"
        f" {deliver_before['VmHWM'] // 1024} -> {deliver_after['VmHWM'] // 1024} MiB"
        f" (+{deliver_peak / size_kib:.2f}x); delivery worker RSS after each of 12: "
        f"{', '.join(str(r // 1024) for r in rss)} MiB"
    )
    assert smtp_peak <= 4 * size_kib
    assert deliver_peak <= 4 * size_kib
    assert all(abs(r - settled) <= 20 * 1024 for r in rss), rss
