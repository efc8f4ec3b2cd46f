"""International mail over real SMTP to a real receiver: UTF-8 (RFC 6532) and 8-bit headers,
encoded words, SMTPUTF8 addresses, and a corpus of real-world shapes, all delivered as
valid UTF-8 JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.integration.mail.conftest import Pipeline
from tests.receiver import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

CORPUS = sorted((Path(__file__).parents[2] / "data" / "mail").glob("*.eml"))


@pytest.fixture
def hooked(pipeline: Pipeline) -> Pipeline:
    pipeline.sign_up()
    pipeline.domain()
    pipeline.webhook()
    return pipeline


def _delivered(pipeline: Pipeline, count: int) -> list[dict[str, Any]]:
    wait_for(lambda: len(pipeline.target.received) >= count, what=f"{count} deliveries")
    # strict UTF-8 first: json.loads alone would accept some invalid input
    return [json.loads(body.decode("utf-8")) for body in pipeline.target.bodies()]


@pytest.mark.parametrize(
    "subject",
    [
        "Café".encode(),
        "Café".encode("latin-1"),
        b"=?utf-8?q?Caf=C3=A9?=",
        b"=?iso-8859-1?b?Q2Fm6Q==?=",
    ],
    ids=["raw-utf8", "raw-latin1", "encoded-q", "encoded-b"],
)
def test_a_subject_in_any_encoding_is_delivered_decoded(hooked: Pipeline, subject: bytes) -> None:
    raw = (
        b"From: " + "Zoë Ünïcode".encode() + b" <zoe@example.org>\r\n"
        b"To: in@example.com\r\nSubject: " + subject + b"\r\n\r\nbody\r\n"
    )
    assert hooked.send(raw) == {}
    (body,) = _delivered(hooked, 1)
    assert body["subject"] == "Café"
    assert body["from"] == [{"name": "Zoë Ünïcode", "address": "zoe@example.org"}]
    assert ["Subject", "Café"] in body["headers"]
    hook_id = hooked.call("GET", "/api/v1/webhooks")[0]["id"]
    wait_for(lambda: bool(hooked.logs(hook_id)), what="the delivery's log row")
    assert [log["http_status"] for log in hooked.logs(hook_id)] == [200]


def test_an_smtputf8_recipient_is_routed_like_any_other(pipeline: Pipeline) -> None:
    pipeline.sign_up()
    pipeline.domain()
    hook = pipeline.webhook("José@example.com")
    assert hook["address"] == "josé@example.com"
    raw = (
        "From: Zoë <zoë@example.org>\r\nTo: José <josé@example.com>\r\n"
        "Subject: Grüße ☕\r\n\r\nHallo\r\n"
    ).encode()
    with pipeline.smtp() as client:
        refused = client.sendmail(
            "zoë@example.org", ["josé@example.com"], raw, mail_options=["SMTPUTF8"]
        )
    assert refused == {}
    (body,) = _delivered(pipeline, 1)
    assert body["envelope"]["rcpt_to"] == ["josé@example.com"]
    assert body["envelope"]["mail_from"] == "zoë@example.org"
    assert body["to"] == [{"name": "José", "address": "josé@example.com"}]
    assert body["subject"] == "Grüße ☕"


def test_an_unknown_smtputf8_recipient_is_still_refused(hooked: Pipeline) -> None:
    with hooked.smtp() as client:
        client.ehlo()
        client.mail("a@example.org", ["SMTPUTF8"])
        code, _ = client.rcpt("zoë@example.com")
    assert code == 550


@pytest.mark.skipif(not CORPUS, reason="tests/data/mail is empty")
def test_the_corpus_of_8bit_messages_is_all_delivered(hooked: Pipeline) -> None:
    with hooked.smtp() as client:
        for path in CORPUS:
            raw = path.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
            assert client.sendmail("a@example.org", ["in@example.com"], raw) == {}, path.name
    bodies = _delivered(hooked, len(CORPUS))
    assert len(bodies) == len(CORPUS)
    assert all(body["subject"] and "\ufffd" not in body["subject"] for body in bodies)
