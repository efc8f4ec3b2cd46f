"""DMARC (RFC 7489) in the payload and in SMTP policies, with HOOKMAIL_AUTH_CHECKS, against
a real DNS server on 127.0.0.1 (and one that never answers)."""

from __future__ import annotations

import json
import smtplib
import socket
import threading
from collections.abc import Iterator
from typing import Any

import dkim
import pytest

from hookmail.adapters.dmarc import DmarcLibEvaluator
from hookmail.adapters.dns import DnspythonResolver
from hookmail.core.mail import DkimResult, DmarcOutcome, SpfOutcome
from tests.integration.mail.conftest import Pipeline
from tests.receiver import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


class SilentDns:
    """A UDP server on 127.0.0.1 that reads DNS queries, counts them, and never answers."""

    def __init__(self) -> None:
        self.queries = 0
        self._sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sink.bind(("127.0.0.1", 0))
        self._sink.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    @property
    def address(self) -> tuple[str, int]:
        return ("127.0.0.1", int(self._sink.getsockname()[1]))

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                self._sink.recv(4096)
            except TimeoutError:
                continue
            self.queries += 1

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sink.close()


@pytest.fixture(scope="module")
def silent_dns() -> Iterator[SilentDns]:
    server = SilentDns()
    yield server
    server.close()


@pytest.fixture
def settings_overrides(request: pytest.FixtureRequest) -> dict[str, Any]:
    """AUTH_CHECKS=always unless a test asks otherwise (indirect parametrisation);
    "silent" points every DNS lookup at a server that never answers."""
    wanted: dict[str, Any] = dict(getattr(request, "param", {"auth_checks": "always"}))
    if wanted.pop("silent", False):
        wanted["dns_nameservers"] = (request.getfixturevalue("silent_dns").address,)
    return wanted


@pytest.fixture
def owner(pipeline: Pipeline) -> Pipeline:
    pipeline.sign_up()
    pipeline.domain()
    return pipeline


def _mail(from_domain: str, *, signer: str | None = None, key: bytes = b"") -> bytes:
    body = (
        f"From: Sender <a@{from_domain}>\r\nTo: in@example.com\r\nSubject: dmarc\r\n"
        f"Message-ID: <d1@{from_domain}>\r\n\r\nhello\r\n"
    ).encode()
    if signer is None:
        return body
    signature = dkim.sign(body, b"sel", signer.encode(), key, include_headers=[b"from", b"to"])
    return bytes(signature) + body


def _auth(owner: Pipeline, count: int = 1) -> dict[str, Any]:
    wait_for(lambda: len(owner.target.received) >= count, what=f"{count} deliveries")
    return dict(json.loads(owner.target.received[count - 1].body)["auth"])


def _publish_key(owner: Pipeline, domain: str, public: str) -> None:
    owner.dns.zone.txt[f"sel._domainkey.{domain}"] = [f"v=DKIM1; k=rsa; p={public}"]


def test_aligned_dkim_passes_relaxed_through_the_organisational_domain(
    owner: Pipeline, dkim_key: tuple[bytes, str]
) -> None:
    private, public = dkim_key
    _publish_key(owner, "example.org", public)
    # No record at _dmarc.news.example.org: the organisational domain's applies.
    owner.dns.zone.txt["_dmarc.example.org"] = ["v=DMARC1; p=reject; rua=mailto:d@example.org"]
    owner.webhook()
    owner.send(_mail("news.example.org", signer="example.org", key=private))
    auth = _auth(owner)
    assert auth["dmarc"] == {"result": "pass", "domain": "news.example.org", "policy": "reject"}
    assert auth["dkim"] == [{"domain": "example.org", "result": "pass"}]
    assert auth["spf"] == "none"  # AUTH_CHECKS=always: SPF too, though no policy asked


def test_strict_dkim_alignment_needs_the_exact_domain(
    owner: Pipeline, dkim_key: tuple[bytes, str]
) -> None:
    private, public = dkim_key
    _publish_key(owner, "example.org", public)
    owner.dns.zone.txt["_dmarc.example.org"] = ["v=DMARC1; p=quarantine; adkim=s"]
    owner.webhook()
    owner.send(_mail("news.example.org", signer="example.org", key=private))
    assert _auth(owner)["dmarc"] == {
        "result": "fail",
        "domain": "news.example.org",
        "policy": "quarantine",
    }
    owner.send(_mail("example.org", signer="example.org", key=private))
    assert _auth(owner, 2)["dmarc"]["result"] == "pass"


def test_aligned_spf_passes_relaxed_and_fails_strict(owner: Pipeline) -> None:
    owner.dns.zone.txt["bounce.example.net"] = ["v=spf1 ip4:127.0.0.0/8 -all"]
    owner.dns.zone.txt["_dmarc.example.net"] = ["v=DMARC1; p=none"]
    owner.dns.zone.txt["_dmarc.example.info"] = ["v=DMARC1; p=reject; aspf=s"]
    owner.dns.zone.txt["bounce.example.info"] = ["v=spf1 ip4:127.0.0.0/8 -all"]
    owner.webhook()
    owner.send(_mail("example.net"), sender="x@bounce.example.net")
    auth = _auth(owner)
    assert (auth["spf"], auth["spf_domain"]) == ("pass", "bounce.example.net")
    assert auth["dmarc"] == {"result": "pass", "domain": "example.net", "policy": "none"}
    owner.send(_mail("example.info"), sender="x@bounce.example.info")
    assert _auth(owner, 2)["dmarc"] == {
        "result": "fail",
        "domain": "example.info",
        "policy": "reject",
    }


def test_subdomain_policy_and_a_domain_without_a_record(owner: Pipeline) -> None:
    owner.dns.zone.txt["_dmarc.example.org"] = ["v=DMARC1; p=reject; sp=quarantine"]
    owner.webhook()
    owner.send(_mail("shop.example.org"))  # unsigned, no SPF: fails, under sp
    assert _auth(owner)["dmarc"] == {
        "result": "fail",
        "domain": "shop.example.org",
        "policy": "quarantine",
    }
    owner.send(_mail("example.org"))  # the organisational domain itself: p
    assert _auth(owner, 2)["dmarc"]["policy"] == "reject"
    owner.send(_mail("nodmarc.example"))
    assert _auth(owner, 3)["dmarc"] == {
        "result": "none",
        "domain": "nodmarc.example",
        "policy": None,
    }


@pytest.mark.parametrize("settings_overrides", [{"auth_checks": "policy"}], indirect=True)
def test_require_dmarc_drops_the_recipient_after_data_and_logs_why(
    owner: Pipeline, dkim_key: tuple[bytes, str]
) -> None:
    private, public = dkim_key
    _publish_key(owner, "example.org", public)
    owner.dns.zone.txt["_dmarc.example.org"] = ["v=DMARC1; p=reject"]
    policy = owner.call("POST", "/api/v1/smtp-policies", {"name": "d", "require_dmarc": True})
    assert policy["require_dmarc"] is True
    strict = owner.webhook("strict@example.com", smtp_security_policy_id=policy["id"])
    plain = owner.webhook("plain@example.com")

    with pytest.raises(smtplib.SMTPDataError) as refused:
        owner.send(_mail("nodmarc.example"), to=["strict@example.com"])
    assert (refused.value.smtp_code, refused.value.smtp_error[:5]) == (550, b"5.7.1")

    assert owner.send(_mail("example.org"), to=["strict@example.com", "plain@example.com"]) == {}
    wait_for(lambda: len(owner.target.received) == 1)
    payload = json.loads(owner.target.received[0].body)
    assert payload["webhook_id"] == plain["id"]  # DMARC fail: only the strict one dropped
    assert payload["auth"]["dmarc"]["result"] == "fail"

    owner.send(_mail("example.org", signer="example.org", key=private), to=["strict@example.com"])
    wait_for(lambda: len(owner.target.received) == 2)
    assert json.loads(owner.target.received[1].body)["webhook_id"] == strict["id"]

    refusals = [g["error"] for g in owner.logs(strict["id"]) if g["status"] == "refused"]
    assert refusals == [
        "refused by SMTP security policy: DMARC fail for example.org",
        "refused by SMTP security policy: DMARC none for nodmarc.example",
    ]


@pytest.mark.parametrize("settings_overrides", [{"auth_checks": "policy"}], indirect=True)
def test_without_a_policy_asking_dmarc_is_not_evaluated(owner: Pipeline) -> None:
    owner.webhook()
    owner.send(_mail("example.org"))
    auth = _auth(owner)
    assert (auth["dmarc"], auth["spf"], auth["dkim"]) == (None, None, [])


def test_a_name_server_that_never_answers_gives_temperror_in_bounded_time(
    silent_dns: SilentDns,
) -> None:
    evaluator = DmarcLibEvaluator(DnspythonResolver((silent_dns.address,), timeout=1.0))
    found: list[DmarcOutcome] = []
    thread = threading.Thread(
        target=lambda: found.append(
            evaluator.evaluate(
                from_domain="example.org",
                spf=SpfOutcome("pass", "example.org"),
                dkim=(DkimResult("example.org", "pass"),),
            )
        ),
        daemon=True,
    )
    thread.start()
    thread.join(timeout=30)  # a deadline, far past the resolver's one-second lifetime
    assert not thread.is_alive(), "the DMARC lookup did not give up"
    assert found == [DmarcOutcome("temperror", "example.org", None)]


@pytest.mark.parametrize(
    "settings_overrides", [{"auth_checks": "always", "silent": True}], indirect=True
)
def test_dns_that_never_answers_stalls_no_other_session(
    pipeline: Pipeline, silent_dns: SilentDns
) -> None:
    """Eight messages wait on DNS after DATA (more than the default thread pool holds);
    meanwhile another session is served, and each waiting message ends with temperror."""
    owner = pipeline
    owner.sign_up()
    address = "in@inbound.hookmail.test"  # a public domain: no DNS proof needed
    owner.webhook(address)
    replies: list[dict[str, tuple[int, bytes]]] = []

    def slow() -> None:
        with smtplib.SMTP("127.0.0.1", owner.settings.smtp_port, timeout=120) as client:
            replies.append(client.sendmail("a@example.org", [address], _mail("x.org")))

    waiting = [threading.Thread(target=slow, daemon=True) for _ in range(8)]
    for thread in waiting:
        thread.start()
    before = silent_dns.queries
    wait_for(lambda: silent_dns.queries >= before + 8, what="eight sessions waiting on DNS")
    with owner.smtp() as client:
        client.mail("b@example.org")
        assert client.rcpt(address)[0] == 250
        assert client.noop()[0] == 250
    assert any(t.is_alive() for t in waiting), "the other session waited for the slow ones"
    for thread in waiting:
        thread.join(timeout=120)
    assert replies == [{}] * 8
    wait_for(lambda: len(owner.target.received) == 8, timeout=60)
    for body in owner.target.bodies():
        auth = json.loads(body)["auth"]
        assert auth["spf"] == "temperror"
        assert auth["dmarc"] == {"result": "temperror", "domain": "x.org", "policy": None}
