"""Idle connections can't exhaust the SMTP worker: a cap on open connections per client
address, a deadline for HELO/EHLO, and the idle timeout between commands, over real sockets."""

from __future__ import annotations

import contextlib
import smtplib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.conftest import SQL_STORES
from tests.integration.mail.conftest import Pipeline

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.integration,
    pytest.mark.parametrize("pipeline", SQL_STORES, indirect=True),
]

CAP = 5
GREETING = 0.5
IDLE = 3.0


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {
        "smtp_max_connections_per_ip": CAP,
        "smtp_greeting_timeout": GREETING,
        "smtp_idle_timeout": IDLE,
    }


class Raw:
    """A bare socket speaking SMTP line by line."""

    def __init__(self, port: int, source: str) -> None:
        self.sock = socket.create_connection(
            ("127.0.0.1", port), timeout=10, source_address=(source, 0)
        )
        self._buffer = b""

    def line(self, timeout: float = 10) -> bytes:
        """The next reply line; b"" once the server closed the connection."""
        self.sock.settimeout(timeout)
        while b"\r\n" not in self._buffer:
            chunk = self.sock.recv(4096)
            if not chunk:
                return b""
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\r\n", 1)
        return line

    def send(self, command: bytes) -> bytes:
        self.sock.sendall(command + b"\r\n")
        return self.line()

    def silent_for(self, seconds: float) -> bool:
        """True when nothing arrives (and the connection stays open) for `seconds`."""
        self.sock.settimeout(seconds)
        try:
            self.sock.recv(1, socket.MSG_PEEK)  # data or EOF: not silent
        except TimeoutError:
            return True
        return False

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def raw(pipeline: Pipeline) -> Iterator[Callable[[str], Raw]]:
    opened: list[Raw] = []

    def connect(source: str = "127.0.0.1") -> Raw:
        client = Raw(pipeline.settings.smtp_port, source)
        opened.append(client)
        return client

    yield connect
    for client in opened:
        client.close()


def _until(check: Callable[[], bool], seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return False


def test_one_address_gets_at_most_the_cap_and_others_are_still_served(
    pipeline: Pipeline, raw: Callable[[str], Raw]
) -> None:
    held = [raw("127.0.0.50") for _ in range(CAP)]
    for client in held:
        assert client.line().startswith(b"220 ")
    for client in held:
        assert client.send(b"EHLO held.example.org").startswith(b"250")
        while client.line().startswith(b"250-") or False:
            pass
    extra = raw("127.0.0.50")
    assert extra.line().startswith(b"421 4.7.0")
    assert extra.line() == b""  # and closed
    other = raw("127.0.0.51")
    assert other.line().startswith(b"220 ")
    held[0].send(b"QUIT")
    held[0].close()

    def slot_free() -> bool:
        probe = raw("127.0.0.50")
        return probe.line().startswith(b"220 ")

    assert _until(slot_free)


def test_250_idle_connections_from_one_address_cannot_exhaust_the_server(
    pipeline: Pipeline, raw: Callable[[str], Raw]
) -> None:
    started = time.monotonic()
    idle = [raw("127.0.0.60") for _ in range(250)]
    banners = [client.line() for client in idle]
    # At most CAP at once; the HELO deadline frees their slots every GREETING seconds
    at_most = CAP * (2 + int((time.monotonic() - started) / GREETING))
    greeted = sum(b.startswith(b"220 ") for b in banners)
    assert CAP <= greeted <= min(at_most, 250 - CAP)
    assert sum(b.startswith(b"421 4.7.0") for b in banners) == 250 - greeted
    with smtplib.SMTP("127.0.0.1", pipeline.settings.smtp_port, timeout=10) as other:
        assert other.ehlo("sender.example.org")[0] == 250
        assert other.noop()[0] == 250
    # the ones let in said nothing: the HELO deadline closes them
    for client, banner in zip(idle, banners, strict=True):
        if banner.startswith(b"220 "):
            assert client.line().startswith(b"421 4.4.2")
            assert client.line() == b""


def test_a_session_must_greet_before_the_deadline_even_if_it_sends_other_commands(
    pipeline: Pipeline, raw: Callable[[str], Raw]
) -> None:
    client = raw("127.0.0.70")
    assert client.line().startswith(b"220 ")
    started = time.monotonic()
    replies = []
    while True:
        reply = client.send(b"NOOP")
        replies.append(reply)
        if not reply.startswith(b"250"):
            break
        assert time.monotonic() - started < 10
    assert replies[-1].startswith(b"421 4.4.2")
    assert client.line() == b""


def test_the_deadline_closes_gently_so_a_command_on_its_way_meets_no_reset(
    pipeline: Pipeline, raw: Callable[[str], Raw]
) -> None:
    # after its 421 the server shuts its sending side and still reads what the client sends
    # (a command sent as the deadline fired): closed at once, it would answer that input
    # with a reset, which can destroy the 421 before the client reads it
    client = raw("127.0.0.71")
    assert client.line().startswith(b"220 ")
    time.sleep(GREETING + 0.3)
    assert client.line().startswith(b"421 4.4.2")
    assert client.line() == b""  # the end of the server's stream
    client.sock.sendall(b"NOOP\r\n")
    time.sleep(0.2)  # a reset, if one came, has arrived: the next send would fail
    client.sock.sendall(b"NOOP\r\n")
    assert client.silent_for(0.2) is False  # still the end of the stream, no error


def test_a_flood_of_commands_gets_every_reply_then_the_421_and_no_reset(
    pipeline: Pipeline, raw: Callable[[str], Raw]
) -> None:
    # megabytes of pipelined NOOPs, not read: when the deadline fires, replies are held
    # (pipelining) and commands wait unread in the server's buffers. Every reply to a
    # command read before the deadline comes, then the 421, then the end of the stream
    client = raw("127.0.0.72")
    assert client.line().startswith(b"220 ")
    flood = b"NOOP\r\n" * ((4 << 20) // 6)

    def send() -> None:
        with contextlib.suppress(OSError):
            client.sock.sendall(flood)

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    time.sleep(GREETING + 0.5)
    replies = 0
    while (reply := client.line()).startswith(b"250"):
        replies += 1
    assert replies > 0
    assert reply.startswith(b"421 4.4.2"), reply
    assert client.line() == b""
    sender.join(10)
    assert not sender.is_alive()  # the server read (and dropped) the rest


def test_a_greeted_session_outlives_the_deadline_and_then_the_idle_timeout_closes_it(
    pipeline: Pipeline, raw: Callable[[str], Raw]
) -> None:
    client = raw("127.0.0.80")
    assert client.line().startswith(b"220 ")
    assert client.send(b"HELO sender.example.org").startswith(b"250")
    assert client.silent_for(GREETING * 3)
    assert client.send(b"NOOP").startswith(b"250")
    assert client.line(timeout=IDLE + 10) == b""  # closed after IDLE seconds without a command
