"""Contract suites for the small ports: each fake and its real adapter behave alike."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from uuid import uuid4

import dkim
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Sink

from hookmail.adapters.access_tokens import JwtAccessTokens
from hookmail.adapters.dns import DnspythonResolver
from hookmail.adapters.emails import EmailValidatorSyntax
from hookmail.adapters.http import PinnedHttpTransport
from hookmail.adapters.mailauth import DkimpyVerifier, PyspfChecker
from hookmail.adapters.mailer import LogMailer, SmtpMailer
from hookmail.adapters.memory import (
    FakeAccessTokens,
    PermissiveEmailSyntax,
    PlainPasswordHasher,
    RecordingMailer,
    RecordingTransport,
    StubDkim,
    StubSpf,
)
from hookmail.adapters.passwords import Argon2PasswordHasher
from hookmail.core.errors import InvalidField, InvalidToken
from hookmail.core.ports import (
    AccessTokens,
    DkimVerifier,
    EmailSyntax,
    HttpOutcome,
    Mailer,
    PasswordHasher,
    SpfChecker,
    WebhookTransport,
)
from tests.builders import NOW
from tests.dns_server import dns_server
from tests.integration.mail.conftest import free_port
from tests.receiver import Receiver, receiver

REAL = pytest.mark.integration

# -- password hashing -------------------------------------------------------------------


@pytest.fixture(params=["plain", pytest.param("argon2", marks=REAL)])
def hasher(request: pytest.FixtureRequest) -> PasswordHasher:
    if request.param == "plain":
        return PlainPasswordHasher()
    return Argon2PasswordHasher(time_cost=1, memory_cost=1024)


def test_a_hash_verifies_its_password_only(hasher: PasswordHasher) -> None:
    hashed = hasher.hash("correct horse")
    assert hasher.verify("correct horse", hashed)
    assert not hasher.verify("wrong horse", hashed)
    assert not hasher.verify("correct horse", "not-a-hash")
    hasher.burn("anything")


def test_argon2_hashes_are_argon2id_and_salted() -> None:
    hasher = Argon2PasswordHasher(time_cost=1, memory_cost=1024)
    first, second = hasher.hash("same"), hasher.hash("same")
    assert first.startswith("$argon2id$")
    assert first != second


# -- access tokens ----------------------------------------------------------------------


@pytest.fixture(params=["fake", pytest.param("jwt", marks=REAL)])
def tokens(request: pytest.FixtureRequest) -> AccessTokens:
    return FakeAccessTokens() if request.param == "fake" else JwtAccessTokens(["k" * 64])


def test_a_token_carries_its_account_and_version(tokens: AccessTokens) -> None:
    account = uuid4()
    claims = tokens.verify(tokens.issue(account_id=account, token_version=7, now=NOW), now=NOW)
    assert (claims.account_id, claims.token_version) == (account, 7)
    assert tokens.lifetime_seconds == 900


def test_garbage_is_an_invalid_token(tokens: AccessTokens) -> None:
    with pytest.raises(InvalidToken):
        tokens.verify("garbage", now=NOW)


# -- email syntax -----------------------------------------------------------------------


@pytest.fixture(params=["permissive", pytest.param("email-validator", marks=REAL)])
def emails(request: pytest.FixtureRequest) -> EmailSyntax:
    return PermissiveEmailSyntax() if request.param == "permissive" else EmailValidatorSyntax()


def test_addresses_are_lower_cased(emails: EmailSyntax) -> None:
    assert emails.normalize(" Alice@Example.COM ") == "alice@example.com"


@pytest.mark.parametrize("raw", ["no-at-sign", "two@@example.com", "a@", "@example.com"])
def test_bad_addresses_name_the_email_field(emails: EmailSyntax, raw: str) -> None:
    with pytest.raises(InvalidField) as raised:
        emails.normalize(raw)
    assert raised.value.field == "email"


# -- mailer -----------------------------------------------------------------------------


class _Inbox(Sink):
    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:  # noqa: N802
        self.messages.append(envelope.original_content)  # type: ignore[attr-defined]
        return "250 OK"


@pytest.fixture(params=["recording", pytest.param("smtp", marks=REAL)])
def mailer(request: pytest.FixtureRequest) -> Iterator[tuple[Mailer, Callable[[], list[str]]]]:
    """A mailer, and a function answering what reached the other side, as text."""
    if request.param == "recording":
        recording = RecordingMailer()
        yield (
            recording,
            lambda: [f"To: {m.to}\nSubject: {m.subject}\n\n{m.body}" for m in recording.sent],
        )
        return
    inbox = _Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    smtp = SmtpMailer("127.0.0.1", port, sender="hookmail@mx.test")

    def received() -> list[str]:
        smtp.flush()
        return [m.decode().replace("\r\n", "\n") for m in inbox.messages]

    try:
        yield smtp, received
    finally:
        controller.stop()


def test_a_mail_reaches_its_recipient(mailer: tuple[Mailer, Callable[[], list[str]]]) -> None:
    sender, received = mailer
    sender.send(to="alice@example.com", subject="Reset", body="Open https://x/reset?token=1")
    (text,) = received()
    assert "To: alice@example.com" in text
    assert "Subject: Reset" in text
    assert "https://x/reset?token=1" in text


def test_the_log_mailer_writes_the_mail_to_the_log(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("INFO", logger="hookmail.mailer"):
        LogMailer().send(to="a@example.com", subject="Reset", body="the link")
    assert "a@example.com" in caplog.text
    assert "the link" in caplog.text


def test_an_unreachable_relay_never_fails_the_caller() -> None:
    mailer = SmtpMailer("127.0.0.1", free_port(), sender="hookmail@mx.test", timeout=1)
    mailer.send(to="a@example.com", subject="s", body="b")
    mailer.flush()


# -- webhook transport ------------------------------------------------------------------


@pytest.fixture(params=["recording", pytest.param("http", marks=REAL)])
def transport(request: pytest.FixtureRequest) -> Iterator[tuple[WebhookTransport, Receiver]]:
    with receiver() as target:
        if request.param == "recording":
            fake = RecordingTransport()
            yield fake, target
            return
        yield PinnedHttpTransport(allow_private=True), target


def test_a_post_answers_the_status(transport: tuple[WebhookTransport, Receiver]) -> None:
    post, target = transport
    if isinstance(post, RecordingTransport):
        post.plan = [HttpOutcome(503, retry_after=7)]
    else:
        target.plan = [(503, {"Retry-After": "7"}, 0.0)]
    outcome = post.post(target.url, headers={"X-A": "1"}, body=b"{}", timeout=2)
    assert (outcome.http_status, outcome.retry_after) == (503, 7)
    second = post.post(target.url, headers={}, body=b"{}", timeout=2)
    assert second.http_status == 200


@pytest.mark.integration
def test_the_http_transport_sends_headers_and_body_and_keeps_the_connection() -> None:
    with receiver() as target:
        http = PinnedHttpTransport(allow_private=True)
        for n in range(3):
            assert (
                http.post(
                    target.url + f"?n={n}", headers={"X-N": str(n)}, body=b"[1]", timeout=2
                ).http_status
                == 200
            )
        http.close()
    assert [r.path for r in target.received] == ["/hook?n=0", "/hook?n=1", "/hook?n=2"]
    assert target.received[2].headers["X-N"] == "2"
    assert target.received[2].headers["Host"] == f"127.0.0.1:{target.port}"
    assert target.received[0].body == b"[1]"


@pytest.mark.integration
def test_the_http_transport_refuses_private_targets_and_pins_the_checked_address() -> None:
    http = PinnedHttpTransport(allow_private=False)
    refused = http.post("http://127.0.0.1:9/x", headers={}, body=b"", timeout=1)
    assert (refused.http_status, refused.permanent) == (0, True)
    assert "loopback" in (refused.error or "")
    resolved: list[str] = []

    def rebinding(host: str, port: int) -> list[str]:
        resolved.append(host)  # a name that resolves private: refused, never connected
        return ["10.0.0.7"]

    rebound = PinnedHttpTransport(resolve=rebinding).post(
        "http://evil.example/x", headers={}, body=b"", timeout=1
    )
    assert rebound.permanent
    assert "private" in (rebound.error or "")
    assert resolved == ["evil.example"]


@pytest.mark.integration
def test_the_http_transport_bounds_the_whole_attempt() -> None:
    with receiver() as target:
        target.plan = [(200, {}, 3.0)]
        http = PinnedHttpTransport(allow_private=True)
        outcome = http.post(target.url, headers={}, body=b"", timeout=0.5)
    assert outcome.http_status == 0
    assert "timed out" in (outcome.error or "")


@pytest.mark.integration
def test_a_refused_connection_is_a_failed_attempt() -> None:
    outcome = PinnedHttpTransport(allow_private=True).post(
        f"http://127.0.0.1:{free_port()}/", headers={}, body=b"", timeout=1
    )
    assert outcome.http_status == 0
    assert not outcome.permanent
    assert "connection failed" in (outcome.error or "")


# -- SPF and DKIM -----------------------------------------------------------------------


@pytest.fixture(params=["stub", pytest.param("pyspf", marks=REAL)])
def spf(request: pytest.FixtureRequest) -> Iterator[SpfChecker]:
    if request.param == "stub":
        yield StubSpf({"good.example": "pass", "bad.example": "fail"})
        return
    with dns_server() as server:
        server.zone.txt["good.example"] = ["v=spf1 ip4:192.0.2.0/24 -all"]
        server.zone.txt["bad.example"] = ["v=spf1 ip4:198.51.100.0/24 -all"]
        yield PyspfChecker(DnspythonResolver(server.nameservers, timeout=2))


def test_spf_pass_fail_and_none(spf: SpfChecker) -> None:
    assert spf.check(ip="192.0.2.9", mail_from="a@good.example", helo="h").result == "pass"
    assert spf.check(ip="192.0.2.9", mail_from="a@bad.example", helo="h").result == "fail"
    none = spf.check(ip="192.0.2.9", mail_from="a@nospf.example", helo="h")
    assert (none.result, none.domain) == ("none", "nospf.example")
    helo = spf.check(ip="192.0.2.9", mail_from="", helo="good.example")
    assert (helo.result, helo.domain) == ("pass", "good.example")


@pytest.fixture(params=["stub", pytest.param("dkimpy", marks=REAL)])
def verifier(request: pytest.FixtureRequest, dkim_key: tuple[bytes, str]) -> Iterator[DkimVerifier]:
    if request.param == "stub":
        yield StubDkim({"signer.example"})
        return
    with dns_server() as server:
        server.zone.txt["sel._domainkey.signer.example"] = [f"v=DKIM1; k=rsa; p={dkim_key[1]}"]
        yield DkimpyVerifier(DnspythonResolver(server.nameservers, timeout=2))


def _sign(body: bytes, domain: bytes, key: bytes) -> bytes:
    signature: bytes = dkim.sign(body, b"sel", domain, key, include_headers=[b"from", b"subject"])
    return signature + body


def test_dkim_results_per_signature(verifier: DkimVerifier, dkim_key: tuple[bytes, str]) -> None:
    body = b"From: a@signer.example\r\nSubject: s\r\n\r\nbody\r\n"
    assert verifier.verify(body) == ()
    signed = _sign(body, b"signer.example", dkim_key[0])
    assert [(r.domain, r.result) for r in verifier.verify(signed)] == [("signer.example", "pass")]
    unknown = _sign(body, b"unknown.example", dkim_key[0])
    assert [(r.domain, r.result) for r in verifier.verify(unknown)] == [("unknown.example", "fail")]


@pytest.mark.integration
def test_dkimpy_fails_a_tampered_body(dkim_key: tuple[bytes, str]) -> None:
    with dns_server() as server:
        server.zone.txt["sel._domainkey.signer.example"] = [f"v=DKIM1; k=rsa; p={dkim_key[1]}"]
        checker = DkimpyVerifier(DnspythonResolver(server.nameservers, timeout=2))
        signed = _sign(
            b"From: a@signer.example\r\nSubject: s\r\n\r\nbody\r\n", b"signer.example", dkim_key[0]
        )
        results = checker.verify(signed.replace(b"body", b"evil"))
    assert [(r.domain, r.result) for r in results] == [("signer.example", "fail")]
