"""The MIME bounds at their exact edges (SPEC §4: at most 1000 parts, the message itself
counted, and nesting depth 30), and a message past them still delivered with a note.
test_payload.py covers the bombs far past the bounds; these are the last part in and the
first one out."""

from __future__ import annotations

import json

import pytest

from hookmail.adapters.memory import FixedClock, InMemoryUnitOfWork, RecordingTransport
from hookmail.core import mime, payload
from hookmail.core.deliveries import DeliveryJob
from hookmail.core.mail import AuthResults, Envelope, InboundMessage
from hookmail.core.services import delivery
from hookmail.core.services.delivery import DeliveryConfig
from tests.builders import NOW, a_domain, a_webhook, an_account

NOTE_PARTS = "more than 1000 MIME parts; the rest were left out"
NOTE_DEPTH = "MIME nested deeper than 30; deeper parts left out"


def _leaves(count: int) -> bytes:
    """A multipart/mixed message of `count` text parts `p0`, `p1`, ..."""
    head = (
        b"From: a@example.org\r\nSubject: many\r\n"
        b'Content-Type: multipart/mixed; boundary="x"\r\n\r\n'
    )
    parts = b"".join(b"--x\r\nContent-Type: text/plain\r\n\r\np%d\r\n" % i for i in range(count))
    return head + parts + b"--x--\r\n"


def _nested(depth: int) -> bytes:
    parts = [b"From: a@example.org\r\nSubject: nested\r\n"]
    for n in range(depth):
        parts.append(f'Content-Type: multipart/mixed; boundary="b{n}"\r\n\r\n--b{n}\r\n'.encode())
    parts.append(b"Content-Type: text/plain\r\n\r\ndeep\r\n")
    parts.extend(f"--b{n}--\r\n".encode() for n in reversed(range(depth)))
    return b"".join(parts)


def test_999_leaves_and_their_multipart_are_1000_parts_all_kept() -> None:
    raw = _leaves(mime.MAX_PARTS - 1)
    assert mime.scan(raw).parts == mime.MAX_PARTS
    fields = payload.parse(raw)
    assert fields["notes"] == []
    assert fields["text"].split("\n") == [f"p{i}" for i in range(999)]


@pytest.mark.parametrize("count", [1000, 1001, 5000])
def test_the_1001st_part_is_left_out_with_a_note(count: int) -> None:
    fields = payload.parse(_leaves(count))
    assert fields["notes"] == [NOTE_PARTS]
    assert fields["text"].split("\n") == [f"p{i}" for i in range(999)]
    assert fields["subject"] == "many"


def test_nesting_30_deep_is_kept_and_31_deep_is_cut_with_a_note() -> None:
    kept = payload.parse(_nested(30))
    assert (kept["text"], kept["notes"]) == ("deep", [])
    cut = payload.parse(_nested(31))
    assert cut["text"] != "deep"
    assert cut["notes"] == [NOTE_DEPTH]
    assert cut["subject"] == "nested"


def test_a_message_past_the_bounds_is_still_delivered_with_its_note() -> None:
    uow, clock, transport = InMemoryUnitOfWork(), FixedClock(NOW), RecordingTransport()
    account = an_account()
    domain = a_domain(account.id, verified=True)
    hook = a_webhook(domain, account.id)
    message = InboundMessage.receive(
        raw=_leaves(3000),
        envelope=Envelope(
            mail_from="a@example.org", rcpt_to=(str(hook.address),), remote_ip="", helo=""
        ),
        auth=AuthResults(),
        now=NOW,
        message_id=None,
    )
    job = DeliveryJob.new(
        message_id=message.id,
        webhook_id=hook.id,
        account_id=account.id,
        recipients=(str(hook.address),),
        now=NOW,
    )
    with uow:
        uow.accounts.add(account)
        uow.domains.save(domain)
        uow.webhooks.save(hook)
        uow.messages.add(message)
        uow.jobs.add(job)
        uow.commit()
    (done,) = delivery.deliver_due(uow, clock, transport, DeliveryConfig())
    assert done.log.http_status == 200
    (post,) = transport.posted
    body = json.loads(post.body)
    assert body["notes"] == [NOTE_PARTS]
    assert body["subject"] == "many"
    assert body["size"] == len(message.raw)
