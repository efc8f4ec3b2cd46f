"""Payload formats and attachment URLs (SPEC §6.5), over SMTP, HTTP and a real API socket."""

from __future__ import annotations

import base64
import json
import os
import threading
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any
from urllib.parse import unquote, urlsplit
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
import requests
from dependency_injector import providers
from sqlalchemy import text
from standardwebhooks.webhooks import Webhook as Verifier

from hookmail.adapters.memory import FixedClock
from hookmail.adapters.sql.engine import make_sessions
from hookmail.adapters.sql.uow import SqlUnitOfWork
from hookmail.core import attachment_urls, payload
from hookmail.core.mail import AuthResults, Envelope, InboundMessage
from hookmail.core.services.attachments import open_attachment
from hookmail.core.services.keys import attachment_url_key
from hookmail.entrypoints.container import Container
from hookmail.entrypoints.http.app import create_app
from hookmail.webhooks import signed_request, verify
from tests.conftest import clean_engine
from tests.integration.mail.conftest import Pipeline
from tests.receiver import Received, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

SIMPLE = (
    "From: Alice <alice@example.org>\r\n"
    "To: In <in@example.com>\r\n"
    "Subject: Formats\r\n"
    "Message-ID: <f1@example.org>\r\n"
    "\r\n"
    "Thanks, see you then.\r\n"
    "\r\n"
    "On Mon, 3 Mar 2025 at 14:02, In <in@example.com> wrote:\r\n"
    "> Shall we meet?\r\n"
)


@pytest.fixture
def owner(pipeline: Pipeline) -> Pipeline:
    pipeline.sign_up()
    pipeline.domain()
    return pipeline


def _one(pipeline: Pipeline, count: int = 1) -> Received:
    wait_for(lambda: len(pipeline.target.received) >= count, what=f"{count} deliveries")
    return pipeline.target.received[count - 1]


def _verified(post: Received, secret: str) -> dict[str, str]:
    headers = {k.lower(): v for k, v in post.headers.items()}
    Verifier(secret).verify(post.body, headers, json_parse=False)  # over these exact bytes
    return headers


def _stored(pipeline: Pipeline) -> bytes:
    with pipeline.container.engine().connect() as connection:
        (raw,) = connection.execute(text("SELECT raw FROM messages")).one()
    return bytes(raw)


def test_json_is_the_default_and_carries_reply_text_and_null_urls(owner: Pipeline) -> None:
    hook = owner.webhook()
    assert hook["payload_format"] == "json"
    assert hook["attachment_url_threshold"] is None
    owner.send(SIMPLE)
    post = _one(owner)
    headers = _verified(post, hook["secret"])
    assert headers["content-type"] == "application/json"
    body = json.loads(post.body)
    assert "raw_base64" not in body
    assert body["reply_text"] == "Thanks, see you then."
    assert body["auth"]["dmarc"] is None  # not evaluated: no policy asks, AUTH_CHECKS=policy


def test_json_with_raw_carries_the_stored_message_byte_for_byte(owner: Pipeline) -> None:
    hook = owner.webhook(payload_format="json_with_raw")
    owner.send(SIMPLE)
    post = _one(owner)
    _verified(post, hook["secret"])
    body = json.loads(post.body)
    assert base64.b64decode(body["raw_base64"]) == _stored(owner)
    assert body["subject"] == "Formats"


def test_raw_is_the_stored_message_with_the_envelope_in_headers(owner: Pipeline) -> None:
    hook = owner.webhook("in@example.com", payload_format="raw")
    owner.webhook("other@example.com")
    with owner.smtp() as client:
        client.sendmail(
            "zoë@example.org",
            ["in@example.com", "other@example.com"],
            SIMPLE.encode(),
            mail_options=["SMTPUTF8"],
        )
    wait_for(lambda: len(owner.target.received) == 2, what="two deliveries")
    post = next(p for p in owner.target.received if not p.body.startswith(b"{"))
    headers = _verified(post, hook["secret"])
    assert post.body == _stored(owner)
    assert headers["content-type"] == "message/rfc822"
    assert unquote(headers["hookmail-mail-from"]) == "zoë@example.org"
    assert headers["hookmail-rcpt-to"] == "in@example.com"  # only this webhook's recipients
    assert headers["hookmail-remote-ip"] == "127.0.0.1"
    assert headers["hookmail-helo"] == "sender.example.org"


def test_a_template_goes_only_with_json(owner: Pipeline) -> None:
    base = {"address": "t@example.com", "target_url": owner.target.url}
    for fields, field in (
        ({"payload_template": "{}", "payload_format": "raw"}, "payload_format"),
        ({"payload_template": "{}", "payload_format": "json_with_raw"}, "payload_format"),
        ({"payload_format": "xml"}, "payload_format"),
    ):
        result = owner.api.simulate_post(
            "/api/v1/webhooks",
            json={**base, **fields},
            headers={"Authorization": f"Bearer {owner.token}"},
        )
        assert result.status_code == 422, result.text
        assert result.json["code"] == "validation_error"
        assert field in result.json["error"]
    templated = owner.webhook("t@example.com", payload_template='{"r": "{{reply_text}}"}')
    put = owner.api.simulate_put(
        f"/api/v1/webhooks/{templated['id']}",
        json={"payload_format": "raw"},
        headers={"Authorization": f"Bearer {owner.token}"},
    )
    assert put.status_code == 422, put.text
    assert "payload_format" in put.json["error"]
    raw = owner.webhook("r@example.com", payload_format="raw")
    put = owner.api.simulate_put(
        f"/api/v1/webhooks/{raw['id']}",
        json={"payload_template": "{}"},
        headers={"Authorization": f"Bearer {owner.token}"},
    )
    assert put.status_code == 422, put.text
    assert "payload_template" in put.json["error"]
    owner.send(SIMPLE, to=["t@example.com"])
    assert json.loads(_one(owner).body) == {"r": "Thanks, see you then."}


def test_custom_headers_may_not_take_the_envelope_header_names(owner: Pipeline) -> None:
    result = owner.api.simulate_post(
        "/api/v1/webhooks",
        json={
            "address": "in@example.com",
            "target_url": owner.target.url,
            "custom_headers": {"Hookmail-Mail-From": "forged@example.org"},
        },
        headers={"Authorization": f"Bearer {owner.token}"},
    )
    assert result.status_code == 422


# -- attachment URLs ----------------------------------------------------------------------


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args: Any) -> None:
        return None


@contextmanager
def _serving(container: Container) -> Iterator[str]:
    """The API over a real socket on 127.0.0.1; its base URL."""
    server: WSGIServer = make_server("127.0.0.1", 0, create_app(container), handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def _on(base: str, url: str) -> str:
    """The attachment URL with its origin replaced by the test server's."""
    return base + urlsplit(url).path


SMALL = b"s" * 100
EXACT = bytes(range(256)) * 4  # 1024 bytes: exactly the threshold stays inline
LARGE = bytes(range(256)) * 40 + b"\x00tail"


def _with_attachments() -> EmailMessage:
    message = EmailMessage()
    message["From"] = "alice@example.org"
    message["To"] = "in@example.com"
    message["Subject"] = "files"
    message.set_content("see attached\n")
    message.add_attachment(SMALL, maintype="text", subtype="plain", filename="small.txt")
    message.add_attachment(EXACT, maintype="application", subtype="octet-stream", filename="x")
    message.add_attachment(
        LARGE, maintype="application", subtype="pdf", filename="Résumé €2026.pdf"
    )
    message.add_attachment(
        b"<b>quoted-printable \xe2\x82\xac</b>\n" * 60,
        maintype="text",
        subtype="html",
        filename="page.html",
        cte="quoted-printable",
    )
    return message


def test_attachments_over_the_threshold_go_as_urls(owner: Pipeline) -> None:
    hook = owner.webhook(attachment_url_threshold=1024)
    with owner.smtp() as client:
        client.send_message(_with_attachments(), "alice@example.org", ["in@example.com"])
    post = _one(owner)
    _verified(post, hook["secret"])
    by_name = {a["filename"]: a for a in json.loads(post.body)["attachments"]}
    small, exact = by_name["small.txt"], by_name["x"]
    large, page = by_name["Résumé €2026.pdf"], by_name["page.html"]
    assert (small["url"], base64.b64decode(small["content_base64"])) == (None, SMALL)
    assert (exact["url"], base64.b64decode(exact["content_base64"])) == (None, EXACT)
    assert large["content_base64"] is None
    assert large["size"] == len(LARGE)
    assert large["url"].startswith("http://127.0.0.1:8000/api/v1/attachments/")
    assert page["content_base64"] is None

    with _serving(owner.container) as base:
        got = requests.get(_on(base, large["url"]), timeout=10)  # no Authorization header
        assert got.status_code == 200
        assert got.content == LARGE
        assert got.headers["Content-Type"] == "application/pdf"
        assert got.headers["Content-Length"] == str(len(LARGE))
        disposition = got.headers["Content-Disposition"]
        assert disposition.startswith("attachment; filename=")
        assert "filename*=UTF-8''R%C3%A9sum%C3%A9%20%E2%82%AC2026.pdf" in disposition
        assert got.headers["X-Content-Type-Options"] == "nosniff"

        html = requests.get(_on(base, page["url"]), timeout=10)
        assert html.content == b"<b>quoted-printable \xe2\x82\xac</b>\n" * 60
        assert html.headers["Content-Type"].startswith("text/html")
        assert html.headers["Content-Disposition"] == 'attachment; filename="page.html"'

        token = urlsplit(large["url"]).path.rsplit("/", 1)[1]
        flipped = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
        for wrong in (flipped, token[:-1], "x" * len(token), "not-a-token"):
            refused = requests.get(f"{base}/api/v1/attachments/{wrong}", timeout=10)
            assert refused.status_code == 404
            assert refused.json()["code"] == "not_found"


def test_expired_and_deleted_messages_answer_404(owner: Pipeline) -> None:
    hook = owner.webhook(attachment_url_threshold=0)
    with owner.smtp() as client:
        client.send_message(_with_attachments(), "alice@example.org", ["in@example.com"])
    post = _one(owner)
    _verified(post, hook["secret"])
    url = json.loads(post.body)["attachments"][0]["url"]
    ttl = owner.settings.attachment_url_ttl

    later = Container(settings=providers.Object(owner.settings))
    later.engine.override(providers.Object(owner.container.engine()))
    clock = FixedClock(datetime.now(UTC) + timedelta(seconds=ttl - 60))
    later.clock.override(providers.Object(clock))
    with _serving(later) as base:
        assert requests.get(_on(base, url), timeout=10).status_code == 200  # not yet
        clock.advance(seconds=120)
        expired = requests.get(_on(base, url), timeout=10)
        assert (expired.status_code, expired.json()["code"]) == (404, "not_found")

    with _serving(owner.container) as base:
        assert requests.get(_on(base, url), timeout=10).status_code == 200
        # Retention is not on main yet: remove the message as a sweep would, row and jobs.
        with owner.container.engine().begin() as connection:
            connection.execute(text("DELETE FROM delivery_jobs"))
            connection.execute(text("DELETE FROM messages"))
        gone = requests.get(_on(base, url), timeout=10)
        assert (gone.status_code, gone.json()["code"]) == (404, "not_found")


def test_putting_null_sets_attachments_back_inline(owner: Pipeline) -> None:
    hook = owner.webhook(attachment_url_threshold=10)
    changed = owner.call("PUT", f"/api/v1/webhooks/{hook['id']}", {"rate_limit": 5})
    assert changed["attachment_url_threshold"] == 10  # not given: kept
    changed = owner.call(
        "PUT", f"/api/v1/webhooks/{hook['id']}", {"attachment_url_threshold": None}
    )
    assert changed["attachment_url_threshold"] is None
    with owner.smtp() as client:
        client.send_message(_with_attachments(), "alice@example.org", ["in@example.com"])
    attachments = json.loads(_one(owner).body)["attachments"]
    assert all(a["url"] is None and a["content_base64"] for a in attachments)


def test_a_20_mib_attachment_is_served_holding_the_message_once(
    request: pytest.FixtureRequest,
) -> None:
    """The stored message is read once; the part is found and decoded in chunks, so the
    peak is that one copy and a little more, never a second copy of the attachment."""
    size = 20 * 1024 * 1024
    message = EmailMessage()
    message["From"] = "a@example.org"
    message.set_content("see attached\n")
    message.add_attachment(os.urandom(size), maintype="application", subtype="zip", filename="b")
    raw = message.as_bytes().replace(b"\n", b"\r\n")
    uow = SqlUnitOfWork(make_sessions(clean_engine(request, "sqlite")))
    now = datetime.now(UTC)
    stored = InboundMessage.receive(
        raw=raw,
        envelope=Envelope(mail_from="a@example.org", rcpt_to=("b@x.test",), remote_ip="", helo=""),
        auth=AuthResults(),
        now=now,
        message_id=None,
    )
    with uow:
        uow.messages.add(stored)
        uow.commit()
    key = attachment_url_key(uow)
    token = attachment_urls.issue(
        key,
        message_id=stored.id,
        part=payload.parse(raw)[payload.ATTACHMENT_PARTS][0],
        size=size,
        expires=now + timedelta(hours=1),
    )
    stored_size = len(raw)
    del raw, stored, message
    tracemalloc.start()
    try:
        found = open_attachment(uow, FixedClock(now), key, token=token)
        sent = sum(len(chunk) for chunk in found.chunks)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sent == found.size == size
    assert peak < stored_size + 4 * 1024 * 1024, f"peak {peak} for a {stored_size}-byte message"


def test_signed_request_builds_each_format() -> None:
    secret = "whsec_" + base64.b64encode(b"k" * 32).decode()
    raw_body, raw_headers = signed_request(secret, SIMPLE, payload_format="raw")
    Verifier(secret).verify(raw_body, raw_headers, json_parse=False)  # over the raw bytes
    assert raw_headers["Content-Type"] == "message/rfc822"
    assert raw_body.startswith(b"Received: ")
    assert raw_body.endswith(SIMPLE.encode())
    assert raw_headers["hookmail-rcpt-to"] == "inbox@example.com"
    body, headers = signed_request(secret, SIMPLE, payload_format="json_with_raw")
    payload = verify(secret, headers, body)
    assert base64.b64decode(payload["raw_base64"]).endswith(SIMPLE.encode())
    assert payload["reply_text"] == "Thanks, see you then."
    with pytest.raises(ValueError, match="payload_template"):
        signed_request(secret, SIMPLE, payload_format="raw", template="{}")
    with pytest.raises(ValueError, match="unknown payload format"):
        signed_request(secret, SIMPLE, payload_format="xml")


def test_reply_text_is_null_without_a_text_part(owner: Pipeline) -> None:
    owner.webhook()
    owner.send(
        "From: a@example.org\r\nTo: in@example.com\r\nSubject: html only\r\n"
        "Content-Type: text/html; charset=utf-8\r\n\r\n<p>Hello</p>\r\n"
    )
    body = json.loads(_one(owner).body)
    assert (body["text"], body["reply_text"]) == ("", None)
    assert body["html"].startswith("<p>Hello</p>")


HOSTILE = (
    "From: a@example.org\r\nTo: in@example.com\r\nSubject: hostile name\r\n"
    "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b1\r\n\r\n"
    "--b1\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
    '--b1\r\nContent-Type: application/x-\r\n evil; charset="a b"\r\n'
    "Content-Disposition: attachment; filename*=utf-8''ev%22il%0D%0AX-Injected%3A%201.bin\r\n"
    "Content-Transfer-Encoding: base64\r\n\r\n"
    + base64.encodebytes(LARGE).decode().replace("\n", "\r\n")
    + "--b1--\r\n"
)


def test_a_hostile_file_name_or_type_cannot_forge_response_headers(owner: Pipeline) -> None:
    owner.webhook(attachment_url_threshold=0)
    owner.send(HOSTILE)
    (attachment,) = json.loads(_one(owner).body)["attachments"]
    assert "\r\n" in attachment["filename"]  # the payload gives the name as sent
    with _serving(owner.container) as base:
        got = requests.get(_on(base, attachment["url"]), timeout=10)
    assert got.status_code == 200
    assert got.content == LARGE
    assert "X-Injected" not in got.headers
    assert got.headers["Content-Type"] == "application/octet-stream"  # folded: not a type
    disposition = got.headers["Content-Disposition"]
    assert disposition == 'attachment; filename="ev_il__X-Injected: 1.bin"'
