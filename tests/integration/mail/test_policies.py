"""Routing and SMTP security policies, with SPF and DKIM answered by a real DNS server."""

from __future__ import annotations

import json
import re
import smtplib
from typing import Any

import dkim
import pytest

from tests.integration.mail.conftest import Pipeline
from tests.receiver import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

MAIL = b"From: a@example.org\r\nTo: in@example.com\r\nSubject: s\r\n\r\nbody\r\n"


@pytest.fixture
def owner(pipeline: Pipeline) -> Pipeline:
    pipeline.sign_up()
    pipeline.domain()
    return pipeline


def _rcpt(
    pipeline: Pipeline,
    address: str,
    sender: str = "a@example.org",
    login: tuple[str, str] | None = None,
) -> tuple[int, bytes]:
    with pipeline.smtp() as client:
        if login:
            client.login(*login)
        client.mail(sender)
        return client.rcpt(address)


def _policy(pipeline: Pipeline, **fields: Any) -> dict[str, Any]:
    return dict(pipeline.call("POST", "/api/v1/smtp-policies", {"name": "p", **fields}))


def _refusals(pipeline: Pipeline, hook: dict[str, Any]) -> list[str]:
    return [g["error"] for g in pipeline.logs(hook["id"]) if g["status"] == "refused"]


def test_exact_then_plus_tag_then_catch_all(owner: Pipeline) -> None:
    exact = owner.webhook("sales@example.com")
    tagged = owner.webhook("sales+vip@example.com")
    catch_all = owner.webhook("*@example.com")
    for rcpt in (
        "sales@example.com",
        "sales+q3@example.com",
        "sales+vip@example.com",
        "nobody@example.com",
    ):
        assert owner.send(MAIL, to=[rcpt]) == {}
    wait_for(lambda: len(owner.target.received) == 4)
    by_hook: dict[str, list[list[str]]] = {}
    for body in owner.target.bodies():
        payload = json.loads(body)
        by_hook.setdefault(payload["webhook_id"], []).append(payload["envelope"]["rcpt_to"])
    assert sorted(by_hook[exact["id"]]) == [["sales+q3@example.com"], ["sales@example.com"]]
    assert by_hook[tagged["id"]] == [["sales+vip@example.com"]]
    assert by_hook[catch_all["id"]] == [["nobody@example.com"]]


def test_unknown_unverified_and_inactive_are_refused_at_rcpt(owner: Pipeline) -> None:
    owner.webhook("off@example.com", active=False)
    owner.call("POST", "/api/v1/domains", {"name": "pending.example"})
    assert _rcpt(owner, "nobody@example.com")[0] == 550
    code, reply = _rcpt(owner, "nobody@example.com")
    assert (code, reply[:5]) == (550, b"5.1.1")
    assert _rcpt(owner, "x@pending.example")[:1] == (550,)
    assert _rcpt(owner, "x@elsewhere.test")[1][:5] == b"5.1.1"
    code, reply = _rcpt(owner, "off@example.com")
    assert (code, reply[:5]) == (550, b"5.2.1")


def test_a_deleted_domain_refuses_mail(owner: Pipeline) -> None:
    owner.webhook("in@example.com")
    domain = next(d for d in owner.call("GET", "/api/v1/domains") if d["name"] == "example.com")
    assert _rcpt(owner, "in@example.com")[0] == 250
    owner.call("DELETE", f"/api/v1/domains/{domain['id']}")
    assert _rcpt(owner, "in@example.com")[0] == 550


def test_smtp_auth_right_wrong_and_missing(owner: Pipeline) -> None:
    policy = _policy(owner, require_smtp_auth=True, smtp_credentials="relay:s3cret-pass")
    hook = owner.webhook(smtp_security_policy_id=policy["id"])
    code, reply = _rcpt(owner, "in@example.com")
    assert (code, reply[:5]) == (550, b"5.7.1")
    with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
        _rcpt(owner, "in@example.com", login=("relay", "wrong"))
    assert refused.value.smtp_code == 535
    assert _rcpt(owner, "in@example.com", login=("relay", "s3cret-pass"))[0] == 250
    with owner.smtp() as client:
        client.login("relay", "s3cret-pass")
        client.sendmail("a@example.org", ["in@example.com"], MAIL)
    wait_for(lambda: len(owner.target.received) == 1)
    assert json.loads(owner.target.received[0].body)["auth"]["smtp_user"] == "relay"
    assert any("SMTP AUTH" in e for e in _refusals(owner, hook))


def test_source_ips_allowed_and_refused(owner: Pipeline) -> None:
    open_to_us = _policy(owner, allowed_source_ips="127.0.0.0/8, ::1")
    closed = _policy(owner, allowed_source_ips="192.0.2.0/24")
    owner.webhook("ok@example.com", smtp_security_policy_id=open_to_us["id"])
    shut = owner.webhook("shut@example.com", smtp_security_policy_id=closed["id"])
    assert _rcpt(owner, "ok@example.com")[0] == 250
    code, reply = _rcpt(owner, "shut@example.com")
    assert (code, reply[:5]) == (550, b"5.7.1")
    assert b"127.0.0.1" in reply
    assert _refusals(owner, shut) == [
        "refused by SMTP security policy: source address 127.0.0.1 is not allowed"
    ]


def test_spf_pass_and_fail(owner: Pipeline) -> None:
    owner.dns.zone.txt["good.example"] = ["v=spf1 ip4:127.0.0.0/8 -all"]
    owner.dns.zone.txt["bad.example"] = ["v=spf1 ip4:192.0.2.0/24 -all"]
    policy = _policy(owner, require_spf=True)
    hook = owner.webhook(smtp_security_policy_id=policy["id"])
    assert _rcpt(owner, "in@example.com", sender="x@good.example")[0] == 250
    code, reply = _rcpt(owner, "in@example.com", sender="x@bad.example")
    assert (code, reply[:5]) == (550, b"5.7.1")
    assert b"SPF fail" in reply
    assert any("SPF fail for bad.example" in e for e in _refusals(owner, hook))
    owner.send(MAIL, sender="x@good.example")
    wait_for(lambda: len(owner.target.received) == 1)
    auth = json.loads(owner.target.received[0].body)["auth"]
    assert (auth["spf"], auth["spf_domain"]) == ("pass", "good.example")


def test_allowed_spf_domains_admit_subdomains_only_of_the_list(owner: Pipeline) -> None:
    for name in ("mail.good.example", "other.example"):
        owner.dns.zone.txt[name] = ["v=spf1 ip4:127.0.0.1 -all"]
    policy = _policy(owner, allowed_spf_domains="good.example")
    owner.webhook(smtp_security_policy_id=policy["id"])
    assert _rcpt(owner, "in@example.com", sender="x@mail.good.example")[0] == 250
    code, reply = _rcpt(owner, "in@example.com", sender="x@other.example")
    assert code == 550
    assert b"not allowed" in reply


def _signed(domain: str, private: bytes) -> bytes:
    body = (
        f"From: a@{domain}\r\nTo: in@example.com\r\nSubject: signed\r\n"
        f"Message-ID: <s1@{domain}>\r\n\r\nsigned body\r\n"
    ).encode()
    signature: bytes = dkim.sign(
        body, b"sel", domain.encode(), private, include_headers=[b"from", b"to", b"subject"]
    )
    return signature + body


def test_dkim_valid_tampered_unsigned_and_allowed_domains(
    owner: Pipeline, dkim_key: tuple[bytes, str]
) -> None:
    private, public = dkim_key
    for domain in ("signer.example", "stranger.example"):
        owner.dns.zone.txt[f"sel._domainkey.{domain}"] = [f"v=DKIM1; k=rsa; p={public}"]
    policy = _policy(owner, require_dkim=True, allowed_dkim_domains="signer.example")
    hook = owner.webhook(smtp_security_policy_id=policy["id"])

    assert owner.send(_signed("signer.example", private)) == {}
    wait_for(lambda: len(owner.target.received) == 1)
    auth = json.loads(owner.target.received[0].body)["auth"]
    assert auth["dkim"] == [{"domain": "signer.example", "result": "pass"}]

    tampered = _signed("signer.example", private).replace(b"signed body", b"forged body")
    unsigned = MAIL
    stranger = _signed("stranger.example", private)
    for raw, reason in (
        (tampered, "no valid DKIM signature"),
        (unsigned, "not DKIM-signed"),
        (stranger, "from an allowed domain"),
    ):
        with pytest.raises(smtplib.SMTPDataError) as refused:
            owner.send(raw)
        assert refused.value.smtp_code == 550
        assert refused.value.smtp_error[:5] == b"5.7.1"
        assert any(reason in e for e in _refusals(owner, hook)), reason
    assert len(owner.target.received) == 1


def test_dkim_refusal_drops_only_that_recipient(
    owner: Pipeline, dkim_key: tuple[bytes, str]
) -> None:
    strict = _policy(owner, require_dkim=True)
    owner.webhook("strict@example.com", smtp_security_policy_id=strict["id"])
    relaxed = owner.webhook("relaxed@example.com")
    assert owner.send(MAIL, to=["strict@example.com", "relaxed@example.com"]) == {}
    wait_for(lambda: len(owner.target.received) == 1)
    payload = json.loads(owner.target.received[0].body)
    assert payload["webhook_id"] == relaxed["id"]
    assert payload["envelope"]["rcpt_to"] == ["relaxed@example.com"]
    assert re.match(r"msg_[0-9a-f]{32}$", payload["id"])
