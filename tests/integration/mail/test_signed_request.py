"""hookmail.webhooks.signed_request builds what a real delivery of the same message sends:
the same body apart from ids and times, the same headers, a signature that verifies."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from hookmail.webhooks import signed_request, verify
from tests.integration.mail.conftest import Pipeline
from tests.receiver import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

RAW = (
    "From: Alice <alice@example.org>\r\n"
    "To: In <in@example.com>, Other <other@example.com>\r\n"
    "Cc: Carol <carol@example.net>\r\n"
    "Subject: =?utf-8?q?Caf=C3=A9?= order\r\n"
    "Message-ID: <m1@example.org>\r\n"
    "Date: Thu, 02 Apr 2026 12:00:00 +0000\r\n"
    "MIME-Version: 1.0\r\n"
    'Content-Type: multipart/mixed; boundary="b"\r\n'
    "\r\n"
    "--b\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "\r\n"
    "Hi!\r\n"
    "--b\r\n"
    'Content-Type: application/pdf; name="a.pdf"\r\n'
    'Content-Disposition: attachment; filename="a.pdf"\r\n'
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "JVBERi0xLjQK\r\n"
    "--b--\r\n"
)


def _without_times(payload: dict[str, Any]) -> dict[str, Any]:
    """The payload less what differs between two deliveries of one message: the delivery id,
    the receipt time, and the time in hookmail's Received header."""
    headers = [list(h) for h in payload["headers"]]
    assert headers[0][0] == "Received"
    headers[0][1] = headers[0][1].rpartition(";")[0]
    return {**payload, "id": "-", "received_at": "-", "headers": headers}


@pytest.mark.parametrize("template", [None, '{"s": "{{subject}}", "n": {{{size}}}}'])
def test_signed_request_matches_a_real_delivery(pipeline: Pipeline, template: str | None) -> None:
    pipeline.sign_up()
    pipeline.domain()
    fields = {"payload_template": template} if template else {}
    hook = pipeline.webhook("in@example.com", custom_headers={"X-Team": "ops"}, **fields)
    assert pipeline.send(RAW, to=["in@example.com"]) == {}
    wait_for(lambda: len(pipeline.target.received) == 1, what="one delivery")
    real = pipeline.target.received[0]
    real_headers = {k.lower(): v for k, v in real.headers.items()}

    body, headers = signed_request(
        hook["secret"],
        RAW.encode(),
        rcpt_to=["in@example.com"],
        mail_from="alice@example.org",
        webhook_id=hook["id"],
        remote_ip="127.0.0.1",
        helo="sender.example.org",
        template=template,
        hostname=pipeline.settings.smtp_hostname,
    )

    assert verify(hook["secret"], headers, body) == json.loads(body)
    assert verify(hook["secret"], real_headers, real.body) == json.loads(real.body)
    mine = {k.lower(): v for k, v in headers.items()}
    # the transport adds its own; custom headers are the webhook's, signed_request has none
    transport = {"host", "content-length", "connection", "accept-encoding"}
    assert set(real_headers) - transport - {"x-team"} == set(mine)
    for name in ("content-type", "user-agent"):
        assert mine[name] == real_headers[name]
    if template is None:
        assert _without_times(json.loads(body)) == _without_times(json.loads(real.body))
        assert json.loads(body)["id"] == mine["webhook-id"]
    else:
        assert json.loads(body) == json.loads(real.body)


def test_signed_request_signs_at_the_time_given() -> None:
    at = datetime(2026, 4, 2, 12, 0, tzinfo=UTC)
    body, headers = signed_request(
        "whsec_" + "c2VjcmV0LWtleS1ieXRlcy0xMjM0NTY3ODkwMTI=", "Subject: x\r\n\r\nhi", now=at
    )
    assert headers["webhook-timestamp"] == str(int(at.timestamp()))
    payload = verify("whsec_" + "c2VjcmV0LWtleS1ieXRlcy0xMjM0NTY3ODkwMTI=", headers, body, now=at)
    assert payload["received_at"] == "2026-04-02T12:00:00Z"
    assert payload["envelope"] == {
        "mail_from": "sender@example.org",
        "rcpt_to": ["inbox@example.com"],
        "remote_ip": "192.0.2.1",
        "helo": "mail.example.org",
    }
    assert payload["subject"] == "x"
    assert payload["message_id"].endswith("@hookmail.invalid>")  # made up: the mail has none


def test_an_unknown_payload_format_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unknown payload format"):
        signed_request(
            "a-plain-secret-of-many-characters", "Subject: x\r\n\r\nhi", payload_format="xml"
        )
