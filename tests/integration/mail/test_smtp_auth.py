"""SMTP AUTH over real sockets, on SQLite and PostgreSQL (SPEC §4): other sessions keep
answering while connections send wrong passwords, failures are limited per client address and
per user name, an attempt costs one hash however many policies share the user name, and a
changed password fails at once."""

from __future__ import annotations

import base64
import smtplib
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from dependency_injector import providers

from hookmail.adapters.memory import FixedClock
from hookmail.adapters.passwords import Argon2PasswordHasher
from hookmail.core.ports import CredentialHasher
from hookmail.core.services.keys import smtp_credential_key
from hookmail.entrypoints.container import Container
from tests.conftest import SQL_STORES
from tests.integration.mail.conftest import Pipeline

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.integration,
    pytest.mark.parametrize("pipeline", SQL_STORES, indirect=True),
]


class CountingHasher:
    """The real keyed argon2 hasher, counting every computation (hash or verify)."""

    def __init__(self) -> None:
        self.inner: CredentialHasher | None = None
        self.count = 0
        self._lock = threading.Lock()

    def _real(self) -> CredentialHasher:
        assert self.inner is not None
        return self.inner

    def hash(self, user: str, password: str) -> str:
        with self._lock:
            self.count += 1
        return self._real().hash(user, password)

    def keyed_prefix(self, user: str) -> str:
        return self._real().keyed_prefix(user)

    def verify(self, user: str, password: str, hashed: str) -> bool:
        with self._lock:
            self.count += 1
        return self._real().verify(user, password, hashed)


@pytest.fixture
def settings_overrides(request: pytest.FixtureRequest) -> dict[str, Any]:
    return dict(getattr(request, "param", {}))


@pytest.fixture
def argon2_cost(request: pytest.FixtureRequest) -> tuple[int, int]:
    """(time_cost, memory_cost KiB) of the credential hasher: cheap unless a test says."""
    time_cost, memory_cost = getattr(request, "param", (1, 1024))
    return int(time_cost), int(memory_cost)


@pytest.fixture
def hashes() -> CountingHasher:
    return CountingHasher()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(current=datetime.now(UTC))


@pytest.fixture
def prepare_container(
    hashes: CountingHasher, argon2_cost: tuple[int, int], clock: FixedClock
) -> Callable[[Container], None]:
    def prepare(container: Container) -> None:
        time_cost, memory_cost = argon2_cost
        key = smtp_credential_key(container.uow())
        hashes.inner = Argon2PasswordHasher(time_cost=time_cost, memory_cost=memory_cost).keyed(key)
        container.credential_hasher.override(providers.Object(hashes))
        container.clock.override(providers.Object(clock))

    return prepare


@pytest.fixture
def owner(pipeline: Pipeline) -> Pipeline:
    pipeline.sign_up()
    pipeline.domain()
    return pipeline


def _policy(pipeline: Pipeline, credentials: str, **fields: Any) -> dict[str, Any]:
    body = {"name": "p", "require_smtp_auth": True, "smtp_credentials": credentials, **fields}
    return dict(pipeline.call("POST", "/api/v1/smtp-policies", body))


def _plain(user: str, password: str) -> str:
    return "PLAIN " + base64.b64encode(f"\0{user}\0{password}".encode()).decode()


@pytest.fixture
def connect(pipeline: Pipeline) -> Iterator[Callable[..., smtplib.SMTP]]:
    """Open a client from a loopback address of our choice (127.0.0.0/8 is all ours)."""
    opened: list[smtplib.SMTP] = []

    def open_client(source: str = "127.0.0.1") -> smtplib.SMTP:
        client = smtplib.SMTP(
            "127.0.0.1", pipeline.settings.smtp_port, timeout=20, source_address=(source, 0)
        )
        opened.append(client)
        client.ehlo("sender.example.org")
        return client

    yield open_client
    for client in opened:
        client.close()


def _auth(client: smtplib.SMTP, user: str, password: str) -> tuple[int, str]:
    code, text = client.docmd("AUTH", _plain(user, password))
    return code, text.decode()


# -- never stalls other sessions ----------------------------------------------------------


@pytest.mark.parametrize("settings_overrides", [{"login_max_failures": 100_000}], indirect=True)
@pytest.mark.parametrize("argon2_cost", [(3, 65536)], indirect=True)  # production's cost
def test_other_sessions_answer_within_50_ms_while_four_connections_send_wrong_passwords(
    owner: Pipeline, hashes: CountingHasher, connect: Callable[..., smtplib.SMTP]
) -> None:
    owner.webhook()
    _policy(owner, "relay:the-right-password")
    stop = threading.Event()
    answers: list[int] = []

    def attack(client: smtplib.SMTP) -> None:
        while not stop.is_set():
            answers.append(_auth(client, "relay", "a-wrong-password")[0])

    attackers = [threading.Thread(target=attack, args=(connect(),)) for _ in range(4)]
    for thread in attackers:
        thread.start()
    timings: dict[str, list[float]] = {"EHLO": [], "MAIL": [], "RCPT": []}
    try:
        deadline = time.monotonic() + 30
        while hashes.count < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
        before = hashes.count
        client = connect()
        rounds = 0
        # At least 20 rounds, and long enough for at least 8 hashes to run meanwhile
        while (rounds < 20 or hashes.count - before < 8) and time.monotonic() < deadline:
            for command, line in (
                ("EHLO", "EHLO sender.example.org"),
                ("MAIL", "MAIL FROM:<alice@example.org>"),
                ("RCPT", "RCPT TO:<in@example.com>"),
            ):
                started = time.perf_counter()
                code, _ = client.docmd(line)
                timings[command].append(time.perf_counter() - started)
                assert code == 250, command
            client.rset()
            rounds += 1
        during = hashes.count - before
    finally:
        stop.set()
        for thread in attackers:
            thread.join(timeout=30)
    assert during >= 8, "the wrong passwords were not being checked while we measured"
    assert set(answers) == {535}
    every = [t for series in timings.values() for t in series]
    figures = {
        command: (statistics.median(series) * 1000, max(series) * 1000)
        for command, series in timings.items()
    }
    print(f"\n{rounds} rounds, {during} hashes meanwhile; median/max ms: {figures}")
    assert statistics.median(every) < 0.050
    assert statistics.quantiles(every, n=10)[-1] < 0.050  # the 90th percentile too


# -- failure limits ------------------------------------------------------------------------


def test_the_eleventh_failure_from_one_address_answers_454_until_the_window_passes(
    owner: Pipeline,
    hashes: CountingHasher,
    clock: FixedClock,
    connect: Callable[..., smtplib.SMTP],
) -> None:
    _policy(owner, "relay:the-right-password")
    attacker = connect("127.0.0.20")
    for n in range(10):  # ten user names: only the address reaches the limit
        assert _auth(attacker, f"user{n}", "wrong")[0] == 535
    hashes.count = 0
    code, text = _auth(attacker, "relay", "the-right-password")
    assert (code, text[:5]) == (454, "4.7.0")
    assert hashes.count == 0  # refused before any hash
    assert _auth(connect("127.0.0.21"), "relay", "the-right-password")[0] == 235
    clock.advance(minutes=15, seconds=1)
    assert _auth(connect("127.0.0.20"), "relay", "the-right-password")[0] == 235

    def attempts(outcome: str) -> float | None:
        return owner.registry.get_sample_value("hookmail_smtp_auth_total", {"outcome": outcome})

    assert (attempts("failed"), attempts("throttled"), attempts("ok")) == (10, 1, 2)


def test_the_eleventh_failure_for_one_user_name_answers_454_from_any_address(
    owner: Pipeline, connect: Callable[..., smtplib.SMTP]
) -> None:
    _policy(owner, "relay:the-right-password,backup:another-password")
    for n in range(10):
        assert _auth(connect(f"127.0.0.{30 + n}"), "relay", "wrong")[0] == 535
    client = connect("127.0.0.45")
    code, text = _auth(client, "relay", "the-right-password")
    assert (code, text[:5]) == (454, "4.7.0")
    assert _auth(client, "backup", "another-password")[0] == 235


# -- cost per attempt ------------------------------------------------------------------------


def test_twenty_policies_of_two_accounts_sharing_a_user_name_cost_one_hash_per_attempt(
    pipeline: Pipeline, hashes: CountingHasher, connect: Callable[..., smtplib.SMTP]
) -> None:
    for account in range(2):
        pipeline.sign_up(f"tenant{account}@example.com")
        for n in range(10):
            _policy(pipeline, f"admin:password-{account}-{n},other{n}:x-{n}-password")
    client = connect()
    for password, code in [("wrong", 535), ("also-wrong", 535), ("password-1-7", 235)]:
        hashes.count = 0
        assert _auth(client, "admin", password)[0] == code
        assert hashes.count == 1, password


def test_a_changed_or_removed_password_fails_at_once(
    owner: Pipeline, connect: Callable[..., smtplib.SMTP]
) -> None:
    policy = _policy(owner, "relay:first-password")
    owner.webhook("relay-only@example.com", smtp_security_policy_id=policy["id"])
    early = connect()  # logs in before the change, and stays
    assert _auth(early, "relay", "first-password")[0] == 235
    assert early.mail("alice@example.org")[0] == 250
    assert early.rcpt("relay-only@example.com")[0] == 250
    assert early.rset()[0] == 250
    path = f"/api/v1/smtp-policies/{policy['id']}"
    owner.call("PUT", path, {"smtp_credentials": "relay:second-password"})
    assert _auth(connect(), "relay", "first-password")[0] == 535
    assert early.mail("alice@example.org")[0] == 250  # its login is read again here...
    code, text = early.rcpt("relay-only@example.com")
    assert (code, text[:5]) == (550, b"5.7.1")  # ...and no longer holds
    assert early.rset()[0] == 250
    assert _auth(early, "relay", "second-password")[0] == 235  # logged out: may log in again
    assert _auth(connect(), "relay", "second-password")[0] == 235
    owner.call("PUT", path, {"smtp_credentials": "", "require_smtp_auth": False})
    assert _auth(connect(), "relay", "second-password")[0] == 535


# -- the exchange itself -----------------------------------------------------------------


def test_login_mechanism_and_malformed_exchanges_get_exactly_one_reply(
    owner: Pipeline, connect: Callable[..., smtplib.SMTP]
) -> None:
    _policy(owner, "relay:the-right-password")
    client = connect()
    assert client.docmd("AUTH", "PLAIN not-base64!")[0] == 501
    assert client.docmd("AUTH", "PLAIN " + base64.b64encode(b"no-nul").decode())[0] == 501
    assert client.docmd("AUTH", "LOGIN")[0] == 334
    assert client.docmd("*")[0] == 501  # aborted
    assert client.noop()[0] == 250  # and nothing else was sent after the 501
    assert client.docmd("AUTH", "LOGIN " + base64.b64encode(b"relay").decode())[0] == 334
    code, _ = client.docmd(base64.b64encode(b"the-right-password").decode())
    assert code == 235
    assert client.docmd("AUTH", _plain("relay", "the-right-password"))[0] == 503
