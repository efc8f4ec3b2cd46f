"""The default payload: international headers, MIME bounds, attachments, memory, JSON."""

from __future__ import annotations

import base64
import email.policy
import json
import os
import random
import sys
import tracemalloc
from datetime import UTC, datetime
from email.message import Message
from email.parser import BytesParser
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest

from hookmail.core import mime, payload
from hookmail.core.deliveries import DeliveryJob
from hookmail.core.mail import AuthResults, Envelope, InboundMessage, normalise_line_endings
from hookmail.core.messages import subject_of

CORPUS = Path(__file__).parents[1] / "data" / "mail"


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


def _valid_utf8(fields: dict[str, Any]) -> None:
    for text in _strings(fields):
        text.encode("utf-8")  # raises on a lone surrogate
    json.loads(payload.encode(fields))


def _message(raw: bytes, **envelope: Any) -> tuple[InboundMessage, DeliveryJob]:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    message = InboundMessage.receive(
        raw=raw,
        envelope=Envelope(
            **{
                "mail_from": "a@example.org",
                "rcpt_to": ("in@example.com",),
                "remote_ip": "203.0.113.5",
                "helo": "mail.example.org",
                **envelope,
            }
        ),
        auth=AuthResults(),
        now=now,
        message_id=None,
    )
    job = DeliveryJob.new(
        message_id=message.id,
        webhook_id=uuid4(),
        account_id=uuid4(),
        recipients=("in@example.com",),
        now=now,
    )
    return message, job


# -- international headers ------------------------------------------------------------------


@pytest.mark.parametrize(
    "subject",
    [
        "Café".encode(),  # RFC 6532 raw UTF-8
        "Café".encode("latin-1"),  # legacy 8-bit
        b"=?utf-8?q?Caf=C3=A9?=",
        b"=?ISO-8859-1?B?Q2Fm6Q==?=",
        b"=?utf-8?q?Ca?= =?utf-8?q?f=C3=A9?=",  # blanks between adjacent words dropped
    ],
)
def test_a_subject_in_any_encoding_arrives_decoded(subject: bytes) -> None:
    fields = payload.parse(b"Subject: " + subject + b"\r\n\r\nbody\r\n")
    assert fields["subject"] == "Café"
    assert fields["headers"] == [["Subject", "Café"]]
    _valid_utf8(fields)


def test_a_character_split_between_two_encoded_words_is_joined() -> None:
    first, second = b"Caf" + b"\xc3", b"\xa9!"
    words = b" ".join(b"=?utf-8?b?" + base64.b64encode(part) + b"?=" for part in (first, second))
    assert payload.parse(b"Subject: " + words + b"\r\n\r\n")["subject"] == "Café!"


def test_windows_1252_bytes_are_read_as_such() -> None:
    fields = payload.parse(b"Subject: \x93quoted\x94 \x80 5 \x81\r\n\r\n")
    assert fields["subject"] == "\u201cquoted\u201d \u20ac 5 \ufffd"


def test_utf8_names_and_smtputf8_addresses_are_kept() -> None:
    raw = (
        "From: Zoë Ünïcode <josé@exämple.com>\r\n"
        'To: =?iso-8859-1?q?Andr=E9?= <a@example.org>, "Doe, John" <j@example.org>\r\n'
        "Cc: =?utf-8?q?Doe=2C_Jane?= <jane@example.org>\r\n"
        "Reply-To: undisclosed-recipients:;\r\n\r\n"
    ).encode()
    fields = payload.parse(raw)
    assert fields["from"] == [{"name": "Zoë Ünïcode", "address": "josé@exämple.com"}]
    assert fields["to"] == [
        {"name": "André", "address": "a@example.org"},
        {"name": "Doe, John", "address": "j@example.org"},
    ]
    assert fields["cc"] == [{"name": "Doe, Jane", "address": "jane@example.org"}]
    assert fields["reply_to"] == []


def test_malformed_encoded_words_stay_as_written() -> None:
    raw = b"Subject: =?utf-8?B?not*base64!?= and =?x-no-such-charset?q?caf=C3=A9?=\r\n\r\n"
    assert payload.parse(raw)["subject"] == "=?utf-8?B?not*base64!?= and café"


def test_folded_headers_are_unfolded_and_the_date_normalised_as_before() -> None:
    raw = (
        b"Subject: a long\r\n subject\r\nDate: Tue, 1 Dec 2026 00:00:00 +0000\r\n"
        b"Message-ID:\r\n <id@example.org>\r\n\r\n"
    )
    fields = payload.parse(raw)
    assert fields["subject"] == "a long subject"
    assert fields["date"] == "Tue, 01 Dec 2026 00:00:00 +0000"
    assert fields["message_id"] == "<id@example.org>"


@pytest.mark.parametrize(
    ("disposition", "name"),
    [
        (b'attachment; filename="=?utf-8?B?csOpc3Vtw6kucGRm?="', "résumé.pdf"),
        (b"attachment; filename*=iso-8859-1'fr'r%E9sum%E9.pdf", "résumé.pdf"),
        (b'attachment; filename="r\xc3\xa9sum\xc3\xa9.pdf"', "résumé.pdf"),
        (b'attachment; filename="r\xe9sum\xe9.pdf"', "résumé.pdf"),
    ],
)
def test_file_names_are_decoded(disposition: bytes, name: str) -> None:
    raw = (
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
        b"Content-Type: application/pdf\r\nContent-Disposition: " + disposition + b"\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b--\r\n"
    )
    (attachment,) = payload.parse(raw)["attachments"]
    assert attachment["filename"] == name
    assert base64.b64decode(attachment["content_base64"]) == b"%PDF-1.4\n"


def test_bodies_in_their_charsets_and_without_one() -> None:
    raw = (
        b'Content-Type: multipart/alternative; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain\r\n\r\nCaf\xc3\xa9 sans charset\r\n"
        b"--b\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\nCaf=E9 latin=\r\n-1\r\n"
        b"--b\r\nContent-Type: text/html; charset=x-no-such\r\n\r\n<p>Caf\xe9</p>\r\n"
        b"--b--\r\n"
    )
    fields = payload.parse(raw)
    assert fields["text"] == "Café sans charset\nCafé latin-1"
    assert fields["html"] == "<p>Café</p>"


def test_nothing_makes_a_lone_surrogate() -> None:
    every_byte = bytes(range(0x80, 0x100))
    raw = (
        b"Subject: " + every_byte + b"\r\nFrom: " + every_byte + b" <a@example.org>\r\n"
        b"X-" + b"Odd: \xff\xfe\xed\xa0\x80\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain; charset=unicode-escape\r\n\r\n\\ud800 x\r\n"
        b"--b\r\nContent-Type: text/plain; charset=utf-7\r\n\r\n+2AA-\r\n"
        b'--b\r\nContent-Type: text/plain; name="' + every_byte + b'"\r\n'
        b"Content-ID: <" + every_byte + b">\r\n\r\n" + every_byte + b"\r\n--b--\r\n"
    )
    fields = payload.parse(raw)
    _valid_utf8(fields)
    message, job = _message(raw, helo="h\udcff", mail_from="x\udc80@example.org")
    _valid_utf8(payload.build(message, job, fields))


@pytest.mark.parametrize(
    "head",
    [b"Subject: Caf\xc3\xa9\r\n", b"Subject: Caf\xe9\r\n", b"Subject: =?utf-8?q?Caf=C3=A9?=\r\n"],
)
def test_the_message_list_shows_the_subject_decoded_like_the_payload(head: bytes) -> None:
    raw = b"From: a@example.org\r\n" + head + b"\r\nbody"
    assert subject_of(raw[: raw.index(b"\r\n\r\n") + 2]) == payload.parse(raw)["subject"] == "Café"


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.eml")), ids=lambda p: p.name)
def test_the_corpus_of_real_world_shapes_parses_to_valid_utf8(path: Path) -> None:
    fields = payload.parse(path.read_bytes())
    _valid_utf8(fields)
    assert fields["subject"]
    assert "\ufffd" not in fields["subject"]
    assert fields["from"]
    assert fields["from"][0]["address"]


# -- MIME bounds ----------------------------------------------------------------------------


def _many_parts(count: int) -> bytes:
    head = b'From: a@example.org\r\nContent-Type: multipart/mixed; boundary="x"\r\n\r\n'
    return head + b"--x\r\n\r\n" * count + b"--x--\r\n"


def _deep(depth: int) -> bytes:
    parts = [b"From: a@example.org\r\nTo: in@example.com\r\nSubject: bomb\r\n"]
    for n in range(depth):
        parts.append(f'Content-Type: multipart/mixed; boundary="b{n}"\r\n\r\n--b{n}\r\n'.encode())
    parts.append(b"Content-Type: text/plain\r\n\r\ndeep\r\n")
    parts.extend(f"--b{n}--\r\n".encode() for n in reversed(range(depth)))
    return b"".join(parts)


def test_500_000_parts_are_cut_at_1000_while_walking() -> None:
    raw = _many_parts(500_000)
    scan = mime.scan(raw)
    assert scan.parts == mime.MAX_PARTS  # the walk stopped there: the rest was never split
    fields = payload.parse(raw)
    assert fields["notes"] == ["more than 1000 MIME parts; the rest were left out"]
    assert fields["from"] == [{"name": "", "address": "a@example.org"}]


def test_500_000_parts_cost_the_memory_of_1000() -> None:
    def peak(raw: bytes) -> int:
        tracemalloc.start()
        try:
            payload.parse(raw)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    assert peak(_many_parts(500_000)) < 2 * peak(_many_parts(1000))


def test_a_2000_deep_message_keeps_its_headers_and_what_fits() -> None:
    fields = payload.parse(_deep(2000))
    assert fields["subject"] == "bomb"
    assert fields["from"] == [{"name": "", "address": "a@example.org"}]
    assert fields["to"] == [{"name": "", "address": "in@example.com"}]
    assert fields["notes"] == ["MIME nested deeper than 30; deeper parts left out"]
    shallow = payload.parse(_deep(30))
    assert shallow["text"] == "deep"
    assert shallow["notes"] == []


def test_lines_that_only_look_like_delimiters_cannot_multiply_the_walk() -> None:
    """30 levels whose boundaries are prefixes of one another, over lines that start like a
    delimiter of each: every level would search the whole message again."""
    head = [b"From: a@example.org\r\nSubject: near misses\r\n"]
    for n in range(1, 31):
        boundary = b"b" * n
        head.append(b'Content-Type: multipart/mixed; boundary="' + boundary + b'"\r\n\r\n--')
        head.append(boundary + b"\r\n")
    raw = b"".join(head) + b"\r\n" + (b"--" + b"b" * 31 + b"z\r\n") * 60_000
    fields = payload.parse(raw)
    assert fields["subject"] == "near misses"
    assert (
        "the MIME structure is too costly to split further; the rest was left out"
        in (fields["notes"])
    )


def test_adjacent_boundaries_make_no_empty_parts_like_the_stdlib() -> None:
    raw = (
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\npreamble\r\n--b\r\n--b\r\n'
        b"Content-Type: text/plain\r\n\r\none\r\n--b\r\n\r\ntwo\r\n--b--\r\nepilogue\r\n"
    )
    stdlib = BytesParser(policy=email.policy.default).parsebytes(raw)
    assert payload.parse(raw)["text"] == "one\ntwo"
    assert [part.get_content() for part in stdlib.iter_parts()] == ["one", "two"]


def test_a_part_without_its_boundary_is_kept_whole_with_a_note() -> None:
    raw = b'Content-Type: multipart/mixed; boundary="gone"\r\n\r\nHi there\r\n'
    fields = payload.parse(raw)
    (attachment,) = fields["attachments"]
    assert base64.b64decode(attachment["content_base64"]) == b"Hi there\r\n"
    assert "no boundary line" in fields["notes"][0]


# -- attachments and memory -----------------------------------------------------------------


def _lines(data: bytes) -> bytes:
    return base64.encodebytes(data).replace(b"\n", b"\r\n")


@pytest.mark.parametrize(
    "body",
    [
        _lines(os.urandom(3000)),  # canonical: passed through
        _lines(b"ab"),  # padded
        b"QR==\r\n",  # non-zero unused bits: decoded and encoded again
        b"QUJD \r\nREVG\r\n",  # a blank inside
        b"QUJDREVGRw\r\n",  # padding missing
    ],
)
def test_attachment_base64_is_what_decoding_and_encoding_again_gives(body: bytes) -> None:
    raw = (
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
        b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + body
        + b"\r\n--b--\r\n"
    )
    (attachment,) = payload.parse(raw)["attachments"]
    (part,) = BytesParser(policy=email.policy.default).parsebytes(raw).iter_parts()
    expected = part.get_payload(decode=True)
    assert isinstance(expected, bytes)
    assert attachment["content_base64"] == base64.b64encode(expected).decode()
    assert attachment["size"] == len(expected)


def _big(size: int) -> bytes:
    third = size // 3 * 3 // 4
    parts = [b'From: a@example.org\r\nContent-Type: multipart/mixed; boundary="m"\r\n\r\n']
    for n in range(3):
        parts.append(
            f"--m\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; "
            f'filename="f{n}.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n'.encode()
        )
        parts.append(_lines(os.urandom(third)))
    parts.append(b"--m--\r\n")
    return b"".join(parts)


def test_a_25_mib_message_builds_its_body_within_3x_its_size_besides_itself() -> None:
    raw = _big(25 * 2**20)
    message, job = _message(raw)
    tracemalloc.start()
    try:
        body = payload.encode(payload.build(message, job, payload.parse(message.raw)))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # with the stored message itself, at most 4x: SPEC's bound for the delivery process
    assert peak < 3 * len(raw), f"{peak / len(raw):.2f}x"
    sent = json.loads(body)
    assert [a["size"] for a in sent["attachments"]] == [25 * 2**20 // 3 * 3 // 4] * 3


def test_nothing_keeps_a_reference_to_the_message() -> None:
    raw = _big(3 * 2**20)
    message, job = _message(raw)
    before = sys.getrefcount(message.raw)
    parsed = payload.parse(message.raw)
    body = payload.encode(payload.build(message, job, parsed))
    after = sys.getrefcount(message.raw)  # outside the assert, which keeps its operands
    assert body
    assert after == before


def test_twelve_big_messages_in_a_row_leave_nothing_behind() -> None:
    raw = _big(2 * 2**20)
    payload.encode(payload.build(*_message(raw), payload.parse(raw)))  # warm up imports
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(12):
            message, job = _message(raw)
            body = payload.encode(payload.build(message, job, payload.parse(message.raw)))
            del message, job, body
        left = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert left < 64 * 1024, f"{left} bytes left"


# -- JSON -----------------------------------------------------------------------------------


def test_long_strings_are_encoded_like_short_ones() -> None:
    text = ('He said "hi" \\ \u2028 \x00 Café ☕ ' * 40_000) + "end"
    data = {
        "text": text,
        "attachments": [{"content_base64": "QUJD" * 100_000, "size": 1}, {"n": None}],
        "headers": [["a", "b"]],
        "marker-like": "0" * 40,
    }
    assert json.loads(payload.encode(data)) == data
    small = {"subject": "Café", "n": 1}
    assert (
        payload.encode(small)
        == json.dumps(small, ensure_ascii=False).replace(", ", ",").replace(": ", ":").encode()
    )


def test_mangled_messages_never_raise_and_always_encode() -> None:
    """A bounded, seeded fuzz over the corpus: bytes inserted, deleted and replaced with the
    tokens MIME and header parsing care about."""
    seeds = [
        path.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        for path in sorted(CORPUS.glob("*.eml"))
    ]
    tokens = [
        b"\r\n",
        b"--",
        b"=?",
        b"?=",
        b"\xff",
        b"\xc3",
        b":",
        b";",
        b'"',
        b"\0",
        b"%",
        b"'",
        b"Content-Type: multipart/mixed; boundary=x\r\n\r\n",
        b"--x\r\n",
        b"--x--",
        b"Content-Transfer-Encoding: base64\r\n",
        b"Content-Type: message/rfc822\r\n\r\n",
        b"filename*0*=",
        b"charset=unicode-escape",
        b"\\ud800",
        b"=?utf-8?b?",
        b"=?x?q?=FF",
    ]
    rnd = random.Random(20261201)
    for _ in range(300):
        mangled = bytearray(rnd.choice(seeds))
        for _ in range(rnd.randint(1, 12)):
            at = rnd.randrange(len(mangled) + 1)
            what = rnd.random()
            if what < 0.5:
                mangled[at:at] = rnd.choice(tokens)
            elif what < 0.75:
                del mangled[at : at + rnd.randint(1, 20)]
            else:
                mangled[at:at] = bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 5)))
        _valid_utf8(payload.parse(normalise_line_endings(bytes(mangled))))


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        'text/plain; charset="UTF-8"',
        "text/plain; charset=iso-8859-1; format=flowed",
        "text/plain; charset*=us-ascii'en'windows-1252",
        "text/plain; charset*0=iso-8859; charset*1=-15",
        "text/plain; charset=",
    ],
)
def test_a_parts_charset_is_the_stdlib_s_however_often_it_is_asked(content_type: str) -> None:
    part = Message()
    part["Content-Type"] = content_type
    expected = part.get_content_charset()
    assert [payload._charset(part) for _ in range(3)] == [expected] * 3
