"""What each payload option costs per message, in microseconds, on this machine.

    .venv/bin/python bench/formats_cost.py [-n 300]

A usual reply (a few KiB of text with quoted history, a 40 KiB attachment) goes through
the delivery path's per-message work: parse (reply_text included) and build the body, once
per option. AUTH_CHECKS=always runs SPF, DKIM and DMARC against a DNS server on 127.0.0.1
(dnslib, in this process: its CPU counts too), so its figure is mostly DNS work. Figures are
CPU time, so a busy machine inflates them less than wall-clock time would.
"""

from __future__ import annotations

import argparse
import base64
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import dkim
from attrs import evolve

from hookmail.adapters.dmarc import DmarcLibEvaluator
from hookmail.adapters.dns import DnspythonResolver
from hookmail.adapters.mailauth import DkimpyVerifier, PyspfChecker
from hookmail.core import formats, payload, reply
from hookmail.core.deliveries import DeliveryJob
from hookmail.core.formats import AttachmentLinks
from hookmail.core.mail import AuthResults, Envelope, InboundMessage
from hookmail.core.services import authentication
from hookmail.core.webhooks import Address, PayloadFormat, Webhook

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from tests.dns_server import dns_server  # the test suite's DNS server (dnslib)

NOW = datetime(2026, 4, 2, 12, 0, tzinfo=UTC)


def _message(key: bytes | None) -> bytes:
    message = EmailMessage()
    message["From"] = "Alice <alice@example.org>"
    message["To"] = "in@example.com"
    message["Subject"] = "Re: order 1234"
    message["Message-ID"] = "<r1@example.org>"
    quoted = "".join(f"> line {n} of the earlier message, quoted back\n" for n in range(60))
    message.set_content(
        "Thanks, the order is confirmed. I'll send the invoice tomorrow.\n\n"
        "Best regards,\nAlice\n\n"
        "On Mon, 3 Mar 2026 at 14:02, Shop <in@example.com> wrote:\n" + quoted
    )
    message.add_attachment(
        os.urandom(40 * 1024), maintype="application", subtype="pdf", filename="invoice.pdf"
    )
    raw = message.as_bytes().replace(b"\n", b"\r\n")
    if key is None:
        return raw
    signature = dkim.sign(raw, b"sel", b"example.org", key, include_headers=[b"from", b"to"])
    return bytes(signature) + raw


def _time(label: str, runs: int, work: Callable[[], object]) -> float:
    """CPU microseconds per call (process time: other processes on a shared machine don't
    count), the best of five batches."""
    work()
    batch = max(runs // 5, 1)
    best = float("inf")
    for _ in range(5):
        started = time.process_time()
        for _ in range(batch):
            work()
        best = min(best, (time.process_time() - started) / batch * 1e6)
    print(f"{label:<58} {best:9.0f} µs")
    return best


def main() -> None:
    runs = argparse.ArgumentParser()
    runs.add_argument("-n", type=int, default=300)
    n = runs.parse_args().n
    with tempfile.TemporaryDirectory() as folder:
        subprocess.run(
            ["openssl", "genrsa", "-traditional", "-out", f"{folder}/k.pem", "1024"],
            check=True,
            capture_output=True,
        )
        der = subprocess.run(
            ["openssl", "rsa", "-in", f"{folder}/k.pem", "-pubout", "-outform", "DER"],
            check=True,
            capture_output=True,
        ).stdout
        with open(f"{folder}/k.pem", "rb") as pem:
            private = pem.read()
    raw = _message(private)
    message = InboundMessage.receive(
        raw=raw,
        envelope=Envelope(
            mail_from="alice@example.org",
            rcpt_to=("in@example.com",),
            remote_ip="127.0.0.1",
            helo="mail.example.org",
        ),
        auth=AuthResults(),
        now=NOW,
        message_id=None,
    )
    webhook = Webhook.new(
        account_id=message.id,
        domain_id=message.id,
        address=Address.parse("in@example.com"),
        target_url="http://x.test/",
        secret="whsec_" + base64.b64encode(b"k" * 32).decode(),
        now=NOW,
    )
    job = DeliveryJob.new(
        message_id=message.id,
        webhook_id=webhook.id,
        account_id=message.id,
        recipients=("in@example.com",),
        now=NOW,
    )
    links = AttachmentLinks(
        key=lambda: b"k" * 43, public_url="http://127.0.0.1:8000", ttl=timedelta(days=7)
    )
    parsed = payload.parse(raw)
    text = parsed["text"]
    print(
        f"message {len(raw)} bytes, text {len(text)} characters, one 40 KiB attachment; "
        f"{n} runs each"
    )

    def body(shape: Webhook) -> Callable[[], object]:
        return lambda: formats.build(
            message, job, shape, parsed, timezone="UTC", links=links, now=NOW
        )

    _time("parse (reply_text included)", n, lambda: payload.parse(raw))
    _time("  of which reply_text", n, lambda: reply.reply_text(text))
    base = _time("json body (build + encode)", n, body(webhook))
    with_raw = _time(
        "json_with_raw body", n, body(evolve(webhook, payload_format=PayloadFormat.JSON_WITH_RAW))
    )
    raw_body = _time("raw body", n, body(evolve(webhook, payload_format=PayloadFormat.RAW)))
    urls = _time(
        "json body, attachment as URL (threshold 1024)",
        n,
        body(evolve(webhook, attachment_url_threshold=1024)),
    )
    print(
        f"  extra over json: json_with_raw {with_raw - base:+.0f} µs, raw {raw_body - base:+.0f}"
        f" µs, attachment URLs {urls - base:+.0f} µs"
    )

    with dns_server() as server:
        server.zone.txt["example.org"] = ["v=spf1 ip4:127.0.0.0/8 -all"]
        server.zone.txt["sel._domainkey.example.org"] = [
            "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()
        ]
        server.zone.txt["_dmarc.example.org"] = ["v=DMARC1; p=reject"]
        resolver = DnspythonResolver(server.nameservers, timeout=2)
        spf, verifier, evaluator = (
            PyspfChecker(resolver),
            DkimpyVerifier(resolver),
            DmarcLibEvaluator(resolver),
        )
        everything = authentication.needs([], authentication.AuthChecks.ALWAYS)

        def check() -> object:
            result = authentication.check(
                everything,
                verifier,
                evaluator,
                raw=raw,
                spf=lambda: spf.check(
                    ip="127.0.0.1", mail_from="alice@example.org", helo="mail.example.org"
                ),
                spf_known=None,
            )
            assert result.dmarc is not None, result
            assert result.dmarc.result == "pass", result
            return result

        _time("AUTH_CHECKS=always: SPF + DKIM + DMARC (local DNS)", max(n // 3, 20), check)
        _time(
            "  of which DMARC alone (given SPF and DKIM)",
            n,
            lambda: evaluator.evaluate(from_domain="example.org", spf=None, dkim=()),
        )


if __name__ == "__main__":
    main()
