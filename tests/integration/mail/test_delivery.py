"""Mail in over SMTP, webhooks out over HTTP."""

from __future__ import annotations

import json

import pytest
from standardwebhooks.webhooks import Webhook as Verifier

from tests.integration.mail.conftest import Pipeline
from tests.receiver import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

SIMPLE = (
    "From: Alice <alice@example.org>\r\n"
    "To: In <in@example.com>\r\n"
    "Subject: Hello there\r\n"
    "Message-ID: <m1@example.org>\r\n"
    "Date: Thu, 02 Apr 2026 12:00:00 +0000\r\n"
    "\r\n"
    "Hi!\r\n"
)


def test_a_mail_arrives_as_the_signed_default_payload(pipeline: Pipeline) -> None:
    pipeline.sign_up()
    pipeline.domain()
    hook = pipeline.webhook()
    assert pipeline.send(SIMPLE) == {}
    wait_for(lambda: len(pipeline.target.received) == 1, what="one delivery")
    post = pipeline.target.received[0]
    headers = {k.lower(): v for k, v in post.headers.items()}
    Verifier(hook["secret"]).verify(post.body, headers)  # raises if the signature is wrong
    body = json.loads(post.body)
    assert body["id"] == headers["webhook-id"]
    assert body["webhook_id"] == hook["id"]
    assert body["subject"] == "Hello there"
    assert body["message_id"] == "<m1@example.org>"
    assert body["from"] == [{"name": "Alice", "address": "alice@example.org"}]
    assert body["to"] == [{"name": "In", "address": "in@example.com"}]
    assert body["text"].strip() == "Hi!"
    assert body["envelope"] == {
        "mail_from": "alice@example.org",
        "rcpt_to": ["in@example.com"],
        "remote_ip": "127.0.0.1",
        "helo": "sender.example.org",
    }
    assert body["size"] > len(SIMPLE)  # our Received header is on it
    assert ["Subject", "Hello there"] in body["headers"]
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"].startswith("hookmail/")
    wait_for(lambda: bool(pipeline.logs(hook["id"])), what="the attempt's log row")
    logs = pipeline.logs(hook["id"])
    assert [(g["http_status"], g["status"], g["attempt"]) for g in logs] == [(200, "delivered", 1)]
    assert logs[0]["smtp_message_id"] == "<m1@example.org>"
    assert logs[0]["sender"] == "alice@example.org"


def test_tagged_recipients_route_to_their_webhook_as_webhooks_come_and_go(
    pipeline: Pipeline,
) -> None:
    """RCPT TO answers `local+tag@` addresses from its cache when the domain has no tagged
    webhook address; a tagged webhook created meanwhile takes its own mail at once."""
    pipeline.sign_up()
    pipeline.domain()
    pipeline.webhook("in@example.com", target_url=pipeline.target.url + "/base")

    def arrived(path: str) -> int:
        return sum(1 for r in pipeline.target.received if r.path == path)

    with pipeline.smtp() as client:
        for tag in ("a", "b", "c"):  # a new tag each time: routed to in@
            assert client.sendmail("a@example.org", [f"in+{tag}@example.com"], SIMPLE) == {}
        refused = client.sendmail(
            "a@example.org", ["in+d@example.com", "out+d@example.com"], SIMPLE
        )
        assert refused["out+d@example.com"][0] == 550  # nobody takes out@: nor its tags
    wait_for(lambda: arrived("/hook/base") == 4, what="four tagged mails at in@")

    pipeline.webhook("in+vip@example.com", target_url=pipeline.target.url + "/vip")
    with pipeline.smtp() as client:
        for to in ("in+vip@example.com", "in+e@example.com", "IN+VIP@example.com"):
            assert client.sendmail("a@example.org", [to], SIMPLE) == {}
    wait_for(lambda: arrived("/hook/vip") == 2, what="the tagged webhook's own mail")
    wait_for(lambda: arrived("/hook/base") == 5, what="another tag still at in@")
