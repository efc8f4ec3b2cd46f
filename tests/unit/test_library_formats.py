"""The library runs the same DMARC and payload-format rules as the servers."""

from __future__ import annotations

import base64
import json

from hookmail import Hookmail

MAIL = "From: a@example.org\r\nTo: in@inbound.example\r\nSubject: s\r\n\r\nhello\r\n"


def test_require_dmarc_refuses_a_domain_without_a_record_in_the_library() -> None:
    hookmail = Hookmail.in_memory(public_domains=["inbound.example"])
    account = hookmail.sign_up("owner@example.com", "correct horse battery")
    policy = hookmail.create_policy(account, name="dmarc", require_dmarc=True)
    hookmail.create_webhook(
        account,
        address="in@inbound.example",
        target_url="https://receiver.example/hook",
        smtp_security_policy_id=policy.id,
    )
    receipt = hookmail.receive(MAIL, mail_from="a@example.org", rcpt_to="in@inbound.example")
    assert receipt.message is None
    assert "DMARC none for example.org" in receipt.refused["in@inbound.example"].detail


def test_json_with_raw_in_the_library() -> None:
    hookmail = Hookmail.in_memory(public_domains=["inbound.example"])
    account = hookmail.sign_up("owner@example.com", "correct horse battery")
    hookmail.create_webhook(
        account,
        address="in@inbound.example",
        target_url="https://receiver.example/hook",
        payload_format="json_with_raw",
    )
    receipt = hookmail.receive(MAIL, mail_from="a@example.org", rcpt_to="in@inbound.example")
    assert receipt.message is not None
    (sent,) = hookmail.deliver_due()
    body = json.loads(sent.body)
    assert base64.b64decode(body["raw_base64"]) == receipt.message.raw
    assert body["reply_text"] == "hello"
    assert body["auth"]["dmarc"] is None
