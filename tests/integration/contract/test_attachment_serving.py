"""An attachment is served from the stored message on every store: the fake, SQLite and
PostgreSQL (bytes as stored, found by the payload's own part index)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import pytest

from hookmail.adapters.memory import FixedClock
from hookmail.core import attachment_urls, payload
from hookmail.core.errors import AttachmentNotFound
from hookmail.core.mail import AuthResults, Envelope, InboundMessage, normalise_line_endings
from hookmail.core.ports import UnitOfWork
from hookmail.core.services.attachments import open_attachment
from hookmail.core.services.keys import attachment_url_key

NOW = datetime(2026, 4, 2, 12, 0, tzinfo=UTC)
DATA = bytes(range(256)) * 100


def test_the_announced_part_is_served_and_no_other(uow: UnitOfWork) -> None:
    mail = EmailMessage()
    mail["From"] = "a@example.org"
    mail.set_content("see attached\n")
    mail.add_attachment(b"first", maintype="text", subtype="plain", filename="a.txt")
    mail.add_attachment(DATA, maintype="application", subtype="zip", filename="data.zip")
    raw = normalise_line_endings(mail.as_bytes())
    message = InboundMessage.receive(
        raw=raw,
        envelope=Envelope(mail_from="a@example.org", rcpt_to=("b@x.test",), remote_ip="", helo=""),
        auth=AuthResults(),
        now=NOW,
        message_id=None,
    )
    with uow:
        uow.messages.add(message)
        uow.commit()
    parsed = payload.parse(raw)
    sizes = [a["size"] for a in parsed["attachments"]]
    assert sizes == [5, len(DATA)]
    key = attachment_url_key(uow)
    token = attachment_urls.issue(
        key,
        message_id=message.id,
        part=parsed[payload.ATTACHMENT_PARTS][1],
        size=len(DATA),
        expires=NOW + timedelta(hours=1),
    )
    found = open_attachment(uow, FixedClock(NOW), key, token=token)
    assert (found.content_type, found.filename, found.size) == (
        "application/zip",
        "data.zip",
        len(DATA),
    )
    assert b"".join(found.chunks) == DATA
    wrong_size = attachment_urls.issue(
        key,
        message_id=message.id,
        part=parsed[payload.ATTACHMENT_PARTS][0],
        size=len(DATA),  # not what that part holds: never served as something else
        expires=NOW + timedelta(hours=1),
    )
    with pytest.raises(AttachmentNotFound):
        open_attachment(uow, FixedClock(NOW), key, token=wrong_size)
