"""The SMTP conversation itself: extensions, STARTTLS, AUTH, size, store failures, metrics."""

from __future__ import annotations

import json
import smtplib
import socket
import ssl
from typing import Any

import pytest
from sqlalchemy import func, select, text

from hookmail.adapters.sql.rows import JobRow, MessageRow
from tests.integration.mail.conftest import Pipeline
from tests.receiver import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.integration]
MAIL = b"From: a@example.org\r\nSubject: s\r\n\r\nbody\r\n"
LIMIT = 20_000


@pytest.fixture
def settings_overrides(tls_certificate: tuple[str, str]) -> dict[str, Any]:
    return {
        "tls_cert": tls_certificate[0],
        "tls_key": tls_certificate[1],
        "smtp_auth_require_tls": True,
        "max_message_bytes": LIMIT,
    }


@pytest.fixture
def hooked(pipeline: Pipeline) -> Pipeline:
    pipeline.sign_up()
    pipeline.domain()
    return pipeline


def _client_tls() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the test's self-signed certificate
    return context


def test_ehlo_offers_the_spec_extensions_and_starttls(hooked: Pipeline) -> None:
    with smtplib.SMTP("127.0.0.1", hooked.settings.smtp_port, timeout=10) as client:
        code, banner = client.ehlo("sender.example.org")
        assert code == 250
        assert banner.split(b"\n")[0] == b"mx.hookmail.test"
        for extension in ("size", "8bitmime", "smtputf8", "pipelining", "starttls"):
            assert client.has_extn(extension), extension
        assert client.esmtp_features["size"] == str(LIMIT)
        assert not client.has_extn("auth")  # AUTH only over TLS here
        client.starttls(context=_client_tls())
        client.ehlo("sender.example.org")
        assert client.has_extn("auth")
        assert set(client.esmtp_features["auth"].split()) >= {"PLAIN", "LOGIN"}


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_auth_plain_and_login_over_tls(hooked: Pipeline, mechanism: str) -> None:
    policy = hooked.call(
        "POST",
        "/api/v1/smtp-policies",
        {"name": "p", "require_smtp_auth": True, "smtp_credentials": "relay:s3cret-pass"},
    )
    hooked.webhook(smtp_security_policy_id=policy["id"])
    with smtplib.SMTP("127.0.0.1", hooked.settings.smtp_port, timeout=10) as client:
        client.starttls(context=_client_tls())
        client.ehlo("sender.example.org")
        client.user, client.password = "relay", "s3cret-pass"
        handler = client.auth_plain if mechanism == "PLAIN" else client.auth_login
        code, _ = client.auth(mechanism, handler, initial_response_ok=mechanism == "PLAIN")
        assert code == 235
        assert client.sendmail("a@example.org", ["in@example.com"], MAIL) == {}
    wait_for(lambda: len(hooked.target.received) == 1)


def test_a_message_over_the_limit_without_size_gets_552_after_data(hooked: Pipeline) -> None:
    hooked.webhook()
    big = MAIL + (b"x" * 70 + b"\r\n") * (LIMIT // 70 + 10)
    with hooked.smtp() as client:
        client.mail("a@example.org")
        client.rcpt("in@example.com")
        code, reply = client.data(big)
    assert (code, reply[:5]) == (552, b"5.3.4")
    assert hooked.target.received == []


def test_a_store_failure_answers_451_and_leaves_no_partial_rows(hooked: Pipeline) -> None:
    hooked.webhook()
    engine = hooked.container.engine()
    with engine.begin() as connection:  # the jobs table refuses every insert from now on
        connection.execute(
            text(
                "CREATE TRIGGER sabotage BEFORE INSERT ON delivery_jobs "
                "BEGIN SELECT RAISE(ABORT, 'disk full'); END"
            )
        )
    with hooked.smtp() as client:
        client.mail("a@example.org")
        client.rcpt("in@example.com")
        code, reply = client.data(MAIL)
    assert (code, reply[:5]) == (451, b"4.3.0")
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(MessageRow)).scalar() == 0
        assert connection.execute(select(func.count()).select_from(JobRow)).scalar() == 0
    with engine.begin() as connection:
        connection.execute(text("DROP TRIGGER sabotage"))
    assert hooked.send(MAIL) == {}  # and the next one goes through


def test_metrics_count_messages_recipients_attempts_and_latency(hooked: Pipeline) -> None:
    hooked.webhook()
    hooked.send(MAIL)
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        hooked.send(MAIL, to=["nobody@example.com"])
    wait_for(lambda: len(hooked.target.received) == 1)

    def sample(name: str, **labels: str) -> float:
        return hooked.registry.get_sample_value(name, labels) or 0.0

    wait_for(lambda: sample("hookmail_delivery_attempts_total", status="delivered") == 1)
    assert sample("hookmail_smtp_messages_total", outcome="accepted") == 1
    assert sample("hookmail_smtp_recipients_total", code="250") == 1
    assert sample("hookmail_smtp_recipients_total", code="550") == 1
    assert sample("hookmail_delivery_latency_seconds_count") == 1


def _replies(connection: socket.socket, count: int) -> list[bytes]:
    """Read until `count` final reply lines came; the reads they took, each its lines."""
    reads: list[bytes] = []
    lines = 0
    while lines < count:
        data = connection.recv(65536)
        assert data, "the server closed the connection"
        reads.append(data)
        lines += sum(1 for line in data.split(b"\r\n") if line[3:4] == b" ")
    return reads


def test_replies_to_pipelined_commands_come_together_and_354_is_never_held(
    hooked: Pipeline,
) -> None:
    hooked.webhook()
    with socket.create_connection(("127.0.0.1", hooked.settings.smtp_port), timeout=10) as conn:
        _replies(conn, 1)  # the banner
        conn.sendall(b"EHLO sender.example.org\r\n")
        assert b"PIPELINING" in b"".join(_replies(conn, 1))
        # RFC 2920: MAIL, two RCPTs and DATA in one go; their replies come in one write
        conn.sendall(
            b"MAIL FROM:<a@example.org>\r\nRCPT TO:<in@example.com>\r\n"
            b"RCPT TO:<nobody@elsewhere.test>\r\nDATA\r\n"
        )
        reads = _replies(conn, 4)
        assert len(reads) == 1, reads
        codes = [line[:3] for line in reads[0].split(b"\r\n") if line]
        assert codes == [b"250", b"250", b"550", b"354"]
        conn.sendall(MAIL + b".\r\n")
        assert _replies(conn, 1)[0].startswith(b"250")
        # a command alone is answered at once (nothing waits behind it)
        conn.sendall(b"NOOP\r\n")
        assert _replies(conn, 1) == [b"250 OK\r\n"]
        conn.sendall(b"QUIT\r\n")
        assert _replies(conn, 1)[0].startswith(b"221")


def test_data_is_dot_unstuffed_and_an_overlong_line_is_refused_after_the_message(
    hooked: Pipeline,
) -> None:
    hooked.webhook()
    with socket.create_connection(("127.0.0.1", hooked.settings.smtp_port), timeout=10) as conn:
        _replies(conn, 1)
        conn.sendall(b"EHLO sender.example.org\r\n")
        _replies(conn, 1)
        # RFC 5321 4.5.2: the client doubled each leading dot; the message has one
        conn.sendall(b"MAIL FROM:<a@example.org>\r\nRCPT TO:<in@example.com>\r\nDATA\r\n")
        assert _replies(conn, 3)[-1].endswith(b"354 End data with <CR><LF>.<CR><LF>\r\n")
        conn.sendall(b"Subject: dots\r\n\r\n..leading dot\r\n...\r\nlast\r\n.\r\n")
        assert _replies(conn, 1)[0].startswith(b"250 ")
        # a line longer than SMTP allows: the whole message is read, then refused (500),
        # and the session goes on
        conn.sendall(b"MAIL FROM:<a@example.org>\r\nRCPT TO:<in@example.com>\r\nDATA\r\n")
        _replies(conn, 3)
        conn.sendall(b"Subject: long\r\n\r\n" + b"x" * 5000 + b"\r\nafter\r\n.\r\n")
        assert _replies(conn, 1)[0].startswith(b"500 ")
        conn.sendall(b"NOOP\r\n")
        assert _replies(conn, 1) == [b"250 OK\r\n"]
    wait_for(lambda: len(hooked.target.received) == 1, what="the dotted mail")
    payload = json.loads(hooked.target.received[0].body)
    assert payload["subject"] == "dots"
    assert payload["text"] == ".leading dot\n..\nlast\n"


_SHAPES = [
    b"..first line dotted\r\nsecond\r\n..\r\n...three\r\n",  # unstuffed: one dot less each
    b"",  # the lone dot at once
    b"\r\n",  # one empty line
    b"Subject: at the limit\r\n\r\n" + b"y" * 999 + b"\r\n",  # 1 001 bytes with its CRLF
    b"Subject: over the limit\r\n\r\n" + b"y" * 1000 + b"\r\n",  # 500, after the message
    b"Subject: big\r\n\r\n" + b"z" * 70 + b"\r\n" + (b"w" * 78 + b"\r\n") * 260,  # over LIMIT
    b"Subject: bare\r\n\r\nbare\n.\nand\r.\rnot the end\r\n",  # only CRLF . CRLF ends it
]


def _stored(pipeline: Pipeline) -> list[bytes]:
    """Every stored message without hookmail's own Received header (three lines)."""
    with pipeline.container.engine().connect() as connection:
        raws = connection.execute(select(MessageRow.raw).order_by(MessageRow.received_at))
        return [raw.split(b"\r\n", 3)[3] for (raw,) in raws]


def _converse(port: int, messages: list[bytes], *, whole: bool) -> list[bytes]:
    """One session, a transaction per message; `whole`: each transaction and its message
    in one write (the message is in the server's buffer before DATA is answered), else
    the message in pieces of 7 bytes, after the 354. The replies to the DATA ends."""
    replies = []
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        _replies(conn, 1)
        conn.sendall(b"EHLO sender.example.org\r\n")
        _replies(conn, 1)
        for message in messages:
            envelope = b"MAIL FROM:<a@example.org>\r\nRCPT TO:<in@example.com>\r\nDATA\r\n"
            if whole:
                conn.sendall(envelope + message + b".\r\n")
            else:
                conn.sendall(envelope)
                _replies(conn, 3)
                for start in range(0, len(message), 7):
                    conn.sendall(message[start : start + 7])
                conn.sendall(b".\r\n")
            got = _replies(conn, 4 if whole else 1)
            replies.append(b"".join(got).split(b"\r\n")[-2][:3])
        conn.sendall(b"NOOP\r\n")
        assert _replies(conn, 1) == [b"250 OK\r\n"]
    return replies


def test_a_message_read_at_once_is_the_message_read_line_by_line(hooked: Pipeline) -> None:
    hooked.webhook()
    port = hooked.settings.smtp_port
    slowly = _converse(port, _SHAPES, whole=False)
    stored_slowly = _stored(hooked)
    at_once = _converse(port, _SHAPES, whole=True)
    assert at_once == slowly == [b"250", b"250", b"250", b"250", b"500", b"552", b"250"]
    stored = _stored(hooked)
    assert stored[: len(stored_slowly)] == stored_slowly
    assert stored[len(stored_slowly) :] == stored_slowly
    assert stored_slowly[0] == b".first line dotted\r\nsecond\r\n.\r\n..three\r\n"
