"""What arrives: MIME bodies and attachments byte-exact, templates, and bad input."""

from __future__ import annotations

import base64
import importlib.util
import json
import smtplib
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from tests.integration.mail.conftest import Pipeline
from tests.receiver import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

BINARY = bytes(range(256)) * 40  # every byte value, 10 KiB


@pytest.fixture
def hooked(pipeline: Pipeline) -> Pipeline:
    pipeline.sign_up()
    pipeline.domain()
    pipeline.hook = pipeline.webhook()  # type: ignore[attr-defined]
    return pipeline


def _delivered(pipeline: Pipeline, count: int = 1) -> list[dict[str, Any]]:
    wait_for(lambda: len(pipeline.target.received) >= count, what=f"{count} deliveries")
    return [json.loads(body) for body in pipeline.target.bodies()]


def test_text_html_and_binary_attachments_arrive_exact(hooked: Pipeline) -> None:
    message = EmailMessage()
    message["From"] = "Zoë <zoe@example.org>"
    message["To"] = "in@example.com"
    message["Cc"] = "Copy <copy@example.net>"
    message["Reply-To"] = "replies@example.org"
    message["Subject"] = "Résumé attached — ünïcode"
    message.set_content("Plain text, with ünïcode.\n")
    message.add_alternative("<p>HTML <b>body</b></p>\n", subtype="html")
    message.add_attachment(
        BINARY, maintype="application", subtype="octet-stream", filename="blob.bin"
    )
    message.add_attachment(
        b"\x89PNG\r\n\x1a\nfake",
        maintype="image",
        subtype="png",
        filename="pic.png",
        cid="<pic1@example.org>",
    )
    with hooked.smtp() as client:
        client.send_message(message, "zoe@example.org", ["in@example.com"])
    (body,) = _delivered(hooked)
    assert body["subject"] == "Résumé attached — ünïcode"
    assert body["from"] == [{"name": "Zoë", "address": "zoe@example.org"}]
    assert body["cc"] == [{"name": "Copy", "address": "copy@example.net"}]
    assert body["reply_to"] == [{"name": "", "address": "replies@example.org"}]
    assert body["text"] == "Plain text, with ünïcode.\n"
    assert body["html"] == "<p>HTML <b>body</b></p>\n"
    attachments = {a["filename"]: a for a in body["attachments"]}
    assert base64.b64decode(attachments["blob.bin"]["content_base64"]) == BINARY
    assert attachments["blob.bin"]["size"] == len(BINARY)
    assert attachments["blob.bin"]["content_type"] == "application/octet-stream"
    assert attachments["blob.bin"]["disposition"] == "attachment"
    assert base64.b64decode(attachments["pic.png"]["content_base64"]) == b"\x89PNG\r\n\x1a\nfake"
    assert attachments["pic.png"]["content_id"] == "<pic1@example.org>"


def test_a_template_with_quotes_and_backslashes_yields_valid_json(pipeline: Pipeline) -> None:
    pipeline.sign_up()
    pipeline.domain()
    template = (
        '{"s": "{{subject}}", "from": "{{#from}}{{address}}{{/from}}", '
        '"at": "{{received_at_local}}", "raw": {{{size}}}}'
    )
    pipeline.webhook(payload_template=template)
    pipeline.call("PUT", "/api/v1/accounts/me/timezone", {"timezone": "Asia/Tokyo"})
    subject = 'He said "hi" \\ then </script> & left\ttab'
    pipeline.send(f"From: a@example.org\r\nSubject: {subject}\r\n\r\nx\r\n")
    wait_for(lambda: len(pipeline.target.received) == 1)
    body = json.loads(pipeline.target.received[0].body)
    assert body["s"] == subject
    assert body["from"] == "a@example.org"
    assert body["at"].endswith("+09:00")
    assert isinstance(body["raw"], int)


def test_bare_line_endings_are_normalised_and_cannot_smuggle(hooked: Pipeline) -> None:
    smuggled = (
        b"From: a@example.org\r\nSubject: one\r\n\r\nline\n.\nMAIL FROM:<evil@x>\nbare\rcr\r\n"
    )
    with hooked.smtp() as client:
        client.ehlo()
        client.mail("a@example.org")
        client.rcpt("in@example.com")
        code, _ = client.data(smuggled)
        assert code == 250
    (body,) = _delivered(hooked)
    # smtplib dot-stuffs after a bare LF; what arrives is what the wire carried, as text
    assert body["text"] == "line\n..\nMAIL FROM:<evil@x>\nbare\ncr\n"
    assert body["envelope"]["mail_from"] == "a@example.org"
    assert len(hooked.target.received) == 1  # no second message came out of the first


def test_an_oversize_message_is_refused_with_552(hooked: Pipeline) -> None:
    limit = hooked.settings.max_message_bytes
    with hooked.smtp() as client:
        code, reply = client.mail("a@example.org", [f"SIZE={limit + 1}"])
        assert (code, reply[:5]) == (552, b"5.3.4")


def test_101_recipients_get_452_after_the_hundredth(hooked: Pipeline) -> None:
    hooked.webhook("*@example.com")
    with hooked.smtp() as client:
        client.mail("a@example.org")
        codes = [client.rcpt(f"user{n}@example.com")[0] for n in range(101)]
    assert codes[:100] == [250] * 100
    assert codes[100] == 452


def test_a_deeply_nested_mime_bomb_is_bounded(hooked: Pipeline) -> None:
    depth = 2000
    parts = [b"From: a@example.org\r\nSubject: bomb\r\n"]
    for n in range(depth):
        parts.append(f'Content-Type: multipart/mixed; boundary="b{n}"\r\n\r\n--b{n}\r\n'.encode())
    parts.append(b"Content-Type: text/plain\r\n\r\ndeep\r\n")
    for n in reversed(range(depth)):
        parts.append(f"--b{n}--\r\n".encode())
    raw = b"".join(parts)
    assert hooked.send(raw) == {}
    (body,) = _delivered(hooked)  # within wait_for's bound: the parse is bounded
    assert body["notes"], "the payload says what was left out"


def test_many_parts_are_capped_at_1000(hooked: Pipeline) -> None:
    head = b'From: a@example.org\r\nContent-Type: multipart/mixed; boundary="x"\r\n\r\n'
    part = b"--x\r\nContent-Type: text/plain\r\n\r\np\r\n"
    assert hooked.send(head + part * 1500 + b"--x--\r\n") == {}
    (body,) = _delivered(hooked)
    assert any("1000" in note for note in body["notes"])


def _corpus() -> list[Path]:
    spec = importlib.util.find_spec("test.test_email")
    if spec is None or spec.origin is None:
        return []
    return sorted((Path(spec.origin).parent / "data").glob("msg_*.txt"))


@pytest.mark.skipif(not _corpus(), reason="CPython's test/test_email/data is not on this machine")
def test_cpythons_email_corpus_never_crashes_the_worker(hooked: Pipeline) -> None:
    corpus = _corpus()
    with hooked.smtp() as client:
        for path in corpus:
            raw = path.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
            try:
                client.sendmail("a@example.org", ["in@example.com"], raw)
            except smtplib.SMTPDataError as exc:
                pytest.fail(f"{path.name}: {exc}")
    bodies = _delivered(hooked, len(corpus))
    assert len(bodies) == len(corpus)
