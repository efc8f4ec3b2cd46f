"""GET /api/v1/messages… (SPEC §6.1): mail sent over SMTP, delivered by the worker, read
through the API, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import SQL_STORES, clean_engine
from tests.dns_server import DnsServer
from tests.integration.e2e.conftest import PUBLIC_DOMAIN
from tests.mailstack import MailStack, mail_stack
from tests.receiver import Receiver, receiver, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

RAW = (
    b"From: Carol <carol@example.org>\r\n"
    b"Subject: =?utf-8?q?Caf=C3=A9?= order\r\n"
    b"Message-ID: <order-1@example.org>\r\n"
    b"\r\n"
    b"..a line that SMTP dot-stuffs\r\n"
    b"8-bit \xc3\xa9 bytes, kept as they came\r\n"
)


@pytest.fixture(params=SQL_STORES)
def stack(request: pytest.FixtureRequest, dns: DnsServer) -> Iterator[MailStack]:
    with mail_stack(clean_engine(request, request.param), dns) as running:
        yield running


def _messages(stack: MailStack, token: str, query: str = "") -> Any:
    result = stack.api.call("GET", f"/api/v1/messages{query}", token)
    assert result.status_code == 200, result.json
    return result.json


def _deliveries(target: Receiver, count: int) -> None:
    wait_for(lambda: len(target.received) >= count, what=f"{count} POSTs")


def test_each_account_sees_its_messages_newest_first_with_only_its_own_part(
    stack: MailStack,
) -> None:
    api = stack.api
    alice, bob = api.new_user("alice@example.com"), api.new_user("bob@example.com")
    with receiver() as ok, receiver() as gone, receiver() as broken:
        gone.default, broken.default = 410, 500
        a_ok = stack.webhook(alice, "a-ok", ok.url)
        a_gone = stack.webhook(alice, "a-gone", gone.url)
        a_broken = stack.webhook(alice, "a-broken", broken.url)
        b_ok = stack.webhook(bob, "b-ok", ok.url)

        shared = stack.send(RAW, "a-ok", "b-ok")
        api.clock.advance(seconds=1)
        refused = stack.send(b"Subject: two\r\n\r\nx\r\n", "a-gone")
        api.clock.advance(seconds=1)
        retrying = stack.send(b"Subject: three\r\n\r\nx\r\n", "a-broken", "a-ok")
        _deliveries(ok, 3)
        _deliveries(gone, 1)
        _deliveries(broken, 1)

        def recorded() -> bool:  # every attempt's outcome is in the store
            listed = _messages(stack, alice)
            return [m["status"] for m in listed] == ["pending", "failed", "delivered"] and all(
                d["attempts"] == 1 for d in listed[0]["deliveries"]
            )

        wait_for(recorded, what="the attempts recorded")

    listed = _messages(stack, alice)
    assert [m["id"] for m in listed] == [retrying, refused, shared]
    newest, middle, oldest = listed
    assert set(oldest) == {
        "id",
        "received_at",
        "mail_from",
        "rcpt_to",
        "message_id",
        "subject",
        "size",
        "status",
        "deliveries",
    }
    assert oldest["rcpt_to"] == [f"a-ok@{PUBLIC_DOMAIN}"]  # not bob's recipient
    assert oldest["subject"] == "Café order"
    assert oldest["message_id"] == "<order-1@example.org>"
    assert oldest["mail_from"] == "alice@example.org"
    assert isinstance(oldest["size"], int)
    assert oldest["size"] > len(RAW)  # with hookmail's Received header
    assert oldest["received_at"].endswith("Z")
    assert oldest["status"] == "delivered"
    (delivery,) = oldest["deliveries"]  # only alice's delivery
    assert delivery["webhook_id"] == a_ok["id"]
    assert delivery["status"] == "delivered"
    assert delivery["attempts"] == 1
    assert delivery["next_attempt_at"] is None
    assert delivery["event_id"] in {r.headers["webhook-id"] for r in ok.received}
    assert middle["status"] == "failed"  # 410 stops retries
    assert newest["status"] == "pending"  # the 500 is retried in an hour
    by_hook = {d["webhook_id"]: d for d in newest["deliveries"]}
    assert by_hook[a_broken["id"]]["status"] == "pending"
    assert by_hook[a_broken["id"]]["next_attempt_at"] is not None
    assert by_hook[a_ok["id"]]["status"] == "delivered"
    assert sorted(newest["rcpt_to"]) == [f"a-broken@{PUBLIC_DOMAIN}", f"a-ok@{PUBLIC_DOMAIN}"]

    bobs = _messages(stack, bob)
    assert [m["id"] for m in bobs] == [shared]
    assert bobs[0]["rcpt_to"] == [f"b-ok@{PUBLIC_DOMAIN}"]
    assert [d["webhook_id"] for d in bobs[0]["deliveries"]] == [b_ok["id"]]

    assert [m["id"] for m in _messages(stack, alice, "?status=failed")] == [refused]
    assert [m["id"] for m in _messages(stack, alice, "?status=pending")] == [retrying]
    assert [m["id"] for m in _messages(stack, alice, "?status=delivered")] == [shared]
    assert [m["id"] for m in _messages(stack, alice, f"?webhook_id={a_gone['id']}")] == [refused]
    assert [m["id"] for m in _messages(stack, alice, f"?webhook_id={a_ok['id']}")] == [
        retrying,
        shared,
    ]
    assert _messages(stack, alice, f"?webhook_id={b_ok['id']}") == []  # bob's webhook
    assert [m["id"] for m in _messages(stack, alice, "?page=2&page_size=2")] == [shared]
    assert _messages(stack, alice, "?page=9") == []
    assert _messages(stack, alice, "?page=99999999999999999999999") == []  # no overflow


@pytest.mark.parametrize(
    "query",
    ["page=0", "page=x", "page_size=0", "page_size=101", "status=lost", "webhook_id=nope"],
)
def test_bad_list_parameters_are_422(stack: MailStack, query: str) -> None:
    token = stack.api.new_user()
    result = stack.api.call("GET", f"/api/v1/messages?{query}", token)
    assert result.status_code == 422
    assert result.json["code"] == "validation_error"
    assert query.split("=")[0] in result.json["error"]


def test_one_message_and_its_raw_bytes_belong_to_its_accounts_only(stack: MailStack) -> None:
    api = stack.api
    alice, bob = api.new_user("alice@example.com"), api.new_user("bob@example.com")
    mallory = api.new_user("mallory@example.com")
    with receiver() as ok:
        stack.webhook(alice, "a-ok", ok.url)
        b_ok = stack.webhook(bob, "b-ok", ok.url)
        message_id = stack.send(RAW, "a-ok", "b-ok")
        _deliveries(ok, 2)

    item = api.call("GET", f"/api/v1/messages/{message_id}", bob)
    assert item.status_code == 200
    assert item.json["rcpt_to"] == [f"b-ok@{PUBLIC_DOMAIN}"]
    assert [d["webhook_id"] for d in item.json["deliveries"]] == [b_ok["id"]]

    raw = api.call("GET", f"/api/v1/messages/{message_id}/raw", alice)
    assert raw.status_code == 200
    assert raw.headers["content-type"] == "message/rfc822"
    assert raw.content.endswith(RAW)  # byte-exact after hookmail's Received header
    received = raw.content[: -len(RAW)]
    assert received.startswith(
        b"Received: from sender.example.org ([127.0.0.1])\r\n"
        b"\tby mx.hookmail.test (hookmail) with ESMTP;\r\n\t"
    )
    assert received.count(b"\r\n") == 3
    assert received.endswith(b"\r\n")
    assert len(raw.content) == item.json["size"]

    for path in (f"/api/v1/messages/{message_id}", f"/api/v1/messages/{message_id}/raw"):
        hidden = api.call("GET", path, mallory)
        assert hidden.status_code == 404
        assert hidden.json == {"code": "not_found", "error": "message not found"}
    missing = api.call("GET", "/api/v1/messages/00000000-0000-4000-8000-000000000000", alice)
    assert missing.status_code == 404
    assert api.call("GET", "/api/v1/messages").status_code == 401
