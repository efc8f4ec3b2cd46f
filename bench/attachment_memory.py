"""Peak memory of serving a 20 MiB attachment by its URL, from a SQLite store.

    .venv/bin/python bench/attachment_memory.py [--mib 20]

Stores one message with a MiB-sized attachment, then serves it through the use case the
HTTP resource calls (token check, message read, part found, decoded in chunks as a WSGI
server would send them), under tracemalloc. Prints the peak of Python allocations during the
request, against the size of the stored message.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

from hookmail.adapters.memory import FixedClock
from hookmail.adapters.sql.engine import make_engine, make_sessions, migrate
from hookmail.adapters.sql.uow import SqlUnitOfWork
from hookmail.core import attachment_urls, payload
from hookmail.core.mail import AuthResults, Envelope, InboundMessage
from hookmail.core.services.attachments import open_attachment
from hookmail.core.services.keys import attachment_url_key


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=20)
    size = parser.parse_args().mib * 1024 * 1024
    message = EmailMessage()
    message["From"] = "a@example.org"
    message["Subject"] = "big"
    message.set_content("see attached\n")
    message.add_attachment(os.urandom(size), maintype="application", subtype="zip", filename="b")
    raw = message.as_bytes().replace(b"\n", b"\r\n")
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{folder}/bench.db")
        migrate(engine)
        uow = SqlUnitOfWork(make_sessions(engine))
        now = datetime.now(UTC)
        stored = InboundMessage.receive(
            raw=raw,
            envelope=Envelope(mail_from="a@example.org", rcpt_to=("b@x",), remote_ip="", helo=""),
            auth=AuthResults(),
            now=now,
            message_id=None,
        )
        with uow:
            uow.messages.add(stored)
            uow.commit()
        part = payload.parse(raw)[payload.ATTACHMENT_PARTS][0]
        key = attachment_url_key(uow)
        token = attachment_urls.issue(
            key, message_id=stored.id, part=part, size=size, expires=now + timedelta(days=1)
        )
        del raw, stored, message
        tracemalloc.start()
        started = time.perf_counter()
        found = open_attachment(uow, FixedClock(now), key, token=token)
        sent = sum(len(chunk) for chunk in found.chunks)
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        stored_size = os.path.getsize(f"{folder}/bench.db")
    assert sent == size
    print(
        f"attachment {size / 2**20:.1f} MiB, stored message ~{stored_size / 2**20:.1f} MiB: "
        f"peak {peak / 2**20:.1f} MiB of Python allocations while serving, "
        f"{elapsed * 1000:.0f} ms (under tracemalloc)"
    )


if __name__ == "__main__":
    main()
