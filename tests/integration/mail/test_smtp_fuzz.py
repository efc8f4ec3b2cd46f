"""Property-based fuzzing of the SMTP session (hypothesis), over a real socket to the real
SMTP worker: random command sequences, random bytes in HELO, MAIL, RCPT, DATA and AUTH.

Whatever arrives, the worker answers every command with a well-formed reply, never with
aiosmtpd's exception reply (`500 Error: (SomeError) …`, which makes senders bounce), never
logs a traceback or an error, and keeps serving. aiosmtpd's own syntax replies (`500 Error:
bad syntax`, `500 Error: command "X" not recognized`, `500 Command line too long`) are RFC
5321's answer to a malformed command and are allowed.
"""

from __future__ import annotations

import base64
import logging
import re
import socket
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.conftest import SQL_STORES
from tests.integration.mail.conftest import Pipeline
from tests.receiver import wait_for

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.integration,
    pytest.mark.parametrize("pipeline", SQL_STORES, indirect=True),
]

EXAMPLES = 300
REPLY = re.compile(rb"^[2-5][0-9][0-9][ -]")
EXCEPTION_REPLY = re.compile(rb"^500 Error: \(")
MAIL = b"From: a@example.org\r\nTo: in@example.com\r\nSubject: after the fuzz\r\n\r\nstill here\r\n"


class Session:
    """One SMTP connection, reply by reply; every wait bounded."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buffer = b""
        self.replies: list[bytes] = []
        self.closed = False

    def reply(self) -> bytes:
        """The next whole reply (its last line), or b"" once the server closed."""
        while True:
            while b"\r\n" not in self.buffer:
                try:
                    chunk = self.sock.recv(65536)
                except (TimeoutError, ConnectionError):
                    chunk = b""
                if not chunk:
                    self.closed = True
                    return b""
                self.buffer += chunk
            line, self.buffer = self.buffer.split(b"\r\n", 1)
            self.replies.append(line)
            if line[3:4] != b"-":
                return line

    def send(self, data: bytes) -> bytes:
        try:
            self.sock.sendall(data)
        except OSError:
            self.closed = True
            return b""
        return self.reply()

    def close(self) -> None:
        self.sock.close()


def _no_newlines(raw: bytes) -> bytes:
    return raw.replace(b"\r", b"").replace(b"\n", b"")


def _dot_stuffed(body: bytes) -> bytes:
    """The body as a client sends it: a line starting with "." gets another, so only our
    terminator ends DATA (whatever bare CRs and LFs the body holds)."""
    stuffed = body.replace(b"\n.", b"\n..")
    return b"." + stuffed if stuffed.startswith(b".") else stuffed


word = st.binary(max_size=40).map(_no_newlines)
address = st.one_of(
    st.sampled_from([b"in@example.com", b"relay-only@example.com", b"nobody@example.com", b""]),
    st.sampled_from(
        [b"in+tag@example.com", b"IN@EXAMPLE.COM", b"@", b"a@b", b"\xc3\xa9@example.com"]
    ),
    word,
)
parameter = st.one_of(
    st.sampled_from([b"BODY=8BITMIME", b"SMTPUTF8", b"BODY=7BIT", b"SIZE=10", b"SIZE=99999999999"]),
    st.builds(lambda w: b"SIZE=" + w, word),
    word,
)
envelope = st.builds(
    lambda verb, path, params, bracket: (
        verb + (b"<" + path + b">" if bracket else path) + b"".join(b" " + p for p in params)
    ),
    st.sampled_from([b"MAIL FROM:", b"RCPT TO:", b"MAIL FROM: ", b"rcpt to:", b"MAIL ", b"RCPT "]),
    address,
    st.lists(parameter, max_size=3),
    st.booleans(),
)
b64 = st.builds(lambda raw: base64.b64encode(raw), st.binary(max_size=60))
credentials = st.one_of(
    st.just(b"\0relay\0the-right-password"),
    st.builds(lambda u, p: b"\0" + u + b"\0" + p, word, word),
    st.binary(max_size=60),
)
auth = st.builds(
    lambda mechanism, initial, answers: ("AUTH", mechanism, initial, answers),
    st.sampled_from([b"PLAIN", b"LOGIN", b"CRAM-MD5", b"plain", b""]),
    st.one_of(st.none(), credentials.map(base64.b64encode), word, st.just(b"=")),
    st.lists(st.one_of(b64, credentials.map(base64.b64encode), word, st.just(b"*")), max_size=3),
)
data = st.builds(
    lambda body: ("DATA", body),
    st.one_of(
        st.binary(max_size=3000),
        st.builds(
            lambda head, body: head + b"\r\n\r\n" + body,
            st.lists(word, max_size=8).map(b"\r\n".join),
            st.binary(max_size=1000),
        ),
    ),
)
line = st.one_of(
    st.builds(lambda verb, host: verb + b" " + host, st.sampled_from([b"EHLO", b"HELO"]), word),
    envelope,
    st.sampled_from([b"RSET", b"NOOP", b"VRFY in@example.com", b"HELP", b"STARTTLS", b"EXPN x"]),
    st.sampled_from([b"DATA", b"BDAT 10", b"EHLO", b"HELO", b"MAIL", b"RCPT", b"AUTH", b" "]),
    word,
    st.binary(min_size=990, max_size=1100).map(_no_newlines),  # past the line limit
)
greeting = st.sampled_from([b"EHLO sender.example.org", b"HELO sender.example.org"])
sender = st.one_of(
    st.just(b"MAIL FROM:<alice@example.org>"),
    st.just(b"MAIL FROM:<alice@example.org> BODY=8BITMIME"),
    st.just(b"MAIL FROM:<>"),
    st.builds(lambda local: b"MAIL FROM:<" + local + b"@example.org>", word),
    envelope,
)
recipient = st.one_of(
    st.just(b"RCPT TO:<in@example.com>"),
    st.sampled_from([b"RCPT TO:<in@example.com>", b"RCPT TO:<relay-only@example.com>"]),
    st.builds(lambda local: b"RCPT TO:<" + local + b"@example.com>", word),
    envelope,
)
login = st.builds(
    lambda mechanism, initial, answers: ("AUTH", mechanism, initial, answers),
    st.sampled_from([b"PLAIN", b"LOGIN"]),
    st.one_of(st.none(), credentials.map(base64.b64encode)),
    st.lists(
        st.sampled_from([b"relay", b"the-right-password", b"\0relay\0the-right-password"]).map(
            base64.b64encode
        ),
        max_size=2,
    ),
)
transaction = st.builds(
    lambda reset, mail, rcpts, body: [b"RSET"] * reset + [mail, *rcpts, body],
    st.booleans(),
    sender,
    st.lists(recipient, min_size=1, max_size=3),
    st.one_of(data, data, line),
)
step = st.one_of(
    line.map(lambda x: [x]),
    data.map(lambda x: [x]),
    auth.map(lambda x: [x]),
    login.map(lambda x: [x]),
    transaction,
    transaction,
)
session = st.builds(
    lambda greet, steps: ([greet] if greet else []) + [item for s in steps for item in s],
    st.one_of(st.none(), *[greeting] * 6),
    st.lists(step, min_size=1, max_size=6),
)


# Sessions every run tries besides the random ones: the deep paths, spelled out
KNOWN: list[list[Any]] = [
    [
        b"EHLO sender.example.org",
        ("AUTH", b"PLAIN", base64.b64encode(b"\0relay\0the-right-password"), []),
        b"MAIL FROM:<alice@example.org>",
        b"RCPT TO:<relay-only@example.com>",
        ("DATA", b"Subject: \xff\xfe\r\n\r\nbare\nLF and bare\rCR\r\n.\r\n..\r\n"),
    ],
    [
        b"EHLO sender.example.org",
        ("AUTH", b"LOGIN", None, [base64.b64encode(b"relay"), base64.b64encode(b"wrong")]),
        b"MAIL FROM:<\xff@example.org>",
        b"MAIL FROM:<alice@example.org>",
        b"RCPT TO:<relay-only@example.com>",
        b"RCPT TO:<nobody@example.com>",
        b"RCPT TO:<in@example.com>",
        ("DATA", b""),
    ],
]


def _with_known(test: Any) -> Any:
    for steps in KNOWN:
        test = example(steps)(test)
    return test


def _run(pipeline: Pipeline, steps: list[Any]) -> list[bytes]:
    smtp = Session(pipeline.settings.smtp_port)
    try:
        greeting = smtp.reply()
        assert greeting.startswith(b"220 "), greeting
        for item in steps:
            if smtp.closed:
                break
            if isinstance(item, bytes):
                reply = smtp.send(item + b"\r\n")
                if reply.startswith(b"354"):  # a bare DATA: end it, empty
                    smtp.send(b".\r\n")
                elif reply.startswith(b"334"):  # an AUTH exchange begun by a random line
                    smtp.send(b"*\r\n")
            elif item[0] == "DATA":
                if smtp.send(b"DATA\r\n").startswith(b"354"):
                    smtp.send(_dot_stuffed(item[1]) + b"\r\n.\r\n")
            else:
                _, mechanism, initial, answers = item
                command = b"AUTH " + mechanism + (b" " + initial if initial is not None else b"")
                reply = smtp.send(command + b"\r\n")
                pending = list(answers)
                while reply.startswith(b"334") and not smtp.closed:
                    reply = smtp.send((pending.pop(0) if pending else b"*") + b"\r\n")
        if not smtp.closed:
            smtp.send(b"QUIT\r\n")
        return smtp.replies
    finally:
        smtp.close()


@pytest.fixture
def fuzzed(pipeline: Pipeline) -> Pipeline:
    pipeline.sign_up()
    pipeline.domain()
    pipeline.webhook()
    policy = pipeline.call(
        "POST",
        "/api/v1/smtp-policies",
        {"name": "p", "require_smtp_auth": True, "smtp_credentials": "relay:the-right-password"},
    )
    pipeline.webhook("relay-only@example.com", smtp_security_policy_id=policy["id"])
    return pipeline


def test_no_command_sequence_gets_an_exception_reply_a_traceback_or_a_dead_worker(
    fuzzed: Pipeline, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    ran: list[int] = []
    replies: list[bytes] = []

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(session)
    @_with_known
    def one_session(steps: list[Any]) -> None:
        ran.append(len(steps))
        got = _run(fuzzed, steps)
        replies.extend(got)
        assert all(REPLY.match(r) for r in got), got
        assert not any(EXCEPTION_REPLY.match(r) for r in got), got

    one_session()
    codes = Counter(r[:3].decode("ascii") for r in replies)
    print(f"\n{len(ran)} sessions, {sum(ran)} steps, {len(replies)} reply lines: {codes}")
    assert len(ran) == EXAMPLES + len(KNOWN)
    assert {"235", "354", "535", "550"} <= set(codes)  # the fuzz went deep, not just wide
    assert any(r.startswith(b"250 2.0.0 Ok: queued") for r in replies)
    failures = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert failures == [], [r.getMessage() for r in failures]
    # and the worker still takes mail
    assert fuzzed.send(MAIL) == {}
    wait_for(lambda: any(b"still here" in r.body for r in fuzzed.target.received))


@pytest.mark.parametrize(
    ("command", "reply"),
    [
        (b"EHLO bad\xff.example.org", b"501 5.5.2"),
        (b"HELO bad\x00.example.org", b"501 5.5.2"),
        (b"MAIL FROM:<\xff\xfe@example.org>", b"501 5.1.7"),
        (b"MAIL FROM:<a\x00b@example.org>", b"501 5.1.7"),
        (b"RCPT TO:<in\x01@example.com>", b"501 5.1.3"),
    ],
)
def test_bytes_no_store_can_keep_in_helo_mail_or_rcpt_are_refused_with_501(
    fuzzed: Pipeline, command: bytes, reply: bytes
) -> None:
    """Found by the fuzz: a MAIL FROM that is not UTF-8 was accepted, then its refusal log
    row or its message could not be stored (451 for ever, and a traceback)."""
    steps: list[Any] = [b"EHLO sender.example.org", b"MAIL FROM:<alice@example.org>", command]
    replies = _run(fuzzed, steps)
    assert replies[-2].startswith(reply)  # the last one answers QUIT
    assert fuzzed.send(MAIL) == {}
