"""Header values as text: 8-bit bytes and RFC 2047 encoded words decoded, best effort.

Mail carries headers in three ways: ASCII with RFC 2047 encoded words (`=?utf-8?q?Caf=C3=A9?=`),
raw UTF-8 (RFC 6532, what SMTPUTF8 invites), and raw bytes of a legacy charset (mostly
Latin-1 / windows-1252). The stdlib's `email.policy.default` keeps the last two as lone
surrogates (and is the slowest part of a parse); `email.header.decode_header` cannot mix
decoded text with encoded words. So: bytes are decoded as UTF-8 when they are valid UTF-8,
else as windows-1252 (the Latin-1 that mail really carries: WHATWG decodes "latin-1" so),
with U+FFFD for its five unassigned bytes; then encoded words are decoded, adjacent words of
one charset joined before decoding (a multi-byte character may be split between two), and
the blanks between adjacent words dropped (RFC 2047 §6.2). Nothing here raises on bad input.
"""

from __future__ import annotations

import base64
import binascii
import re
from email.utils import getaddresses
from typing import Any

_WORD = re.compile(r"=\?([^?\s]+)\?([QqBb])\?([^?]*)\?=")
_SURROGATE = re.compile("[\ud800-\udfff]")
_BLANKS = " \t\r\n"


def text(raw: bytes) -> str:
    """Bytes with no (usable) declared charset as text: UTF-8, else windows-1252."""
    if raw.isascii():
        return raw.decode("ascii")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", "replace")


def decode(raw: bytes, charset: str | None) -> str:
    """Bytes in a declared charset; an unknown or unusable charset falls back to text()."""
    if charset is None or charset in ("us-ascii", "ascii"):  # often a lie: 8-bit is common
        return text(raw)
    try:
        decoded = raw.decode(charset, "replace")
    except (LookupError, UnicodeError, ValueError, TypeError):
        return text(raw)
    return valid(decoded)  # a codec such as unicode-escape can make lone surrogates


def unescape(value: str) -> str:
    """A str the stdlib read with surrogateescape (a parameter, a file name) as real text."""
    if value.isascii():
        return value
    try:
        return text(value.encode("utf-8", "surrogateescape"))
    except UnicodeEncodeError:  # a surrogate that no byte stands for
        return _SURROGATE.sub("\ufffd", value)


def _word_bytes(encoding: str, encoded: str) -> bytes | None:
    try:
        if encoding in "bB":
            return base64.b64decode(encoded + "=" * (-len(encoded) % 4))
        return binascii.a2b_qp(encoded.encode("utf-8"), header=True)
    except (binascii.Error, ValueError):
        return None


def decode_words(value: str) -> str:
    """RFC 2047 encoded words in `value` decoded; anything malformed is kept as written."""
    if "=?" not in value:
        return value
    out: list[str] = []
    pending = bytearray()
    charset: str | None = None  # of `pending`; None when nothing is pending
    last = 0
    for word in _WORD.finditer(value):
        between = value[last : word.start()]
        data = _word_bytes(word[2], word[3])
        if charset is None or between.strip(_BLANKS) or data is None:
            if charset is not None:
                out.append(decode(bytes(pending), charset))
                pending.clear()
                charset = None
            out.append(between)
        last = word.end()
        if data is None:
            out.append(word[0])
            continue
        word_charset = word[1].split("*", 1)[0].lower()  # RFC 2231 adds *language
        if charset is not None and word_charset != charset:
            out.append(decode(bytes(pending), charset))
            pending.clear()
        charset = word_charset
        pending += data
    if charset is not None:
        out.append(decode(bytes(pending), charset))
    out.append(value[last:])
    return "".join(out)


def unfold(raw: bytes) -> str:
    """A folded raw header value as one line of text (RFC 5322 unfolding removes the CRLFs)."""
    return text(raw.replace(b"\r\n", b""))


def field_text(raw: bytes) -> str:
    """An unstructured header value (Subject, or any header in the `headers` list) as text."""
    return decode_words(unfold(raw))


_ADDR = r'[^\s<>()\[\]\\,;:@"]+@[^\s<>()\[\]\\,;:@"]+'
_SIMPLE = re.compile(rf'[ \t]*(?:([^<>()\[\]\\,;:@"]*?)[ \t]*<({_ADDR})>|({_ADDR}))[ \t]*(?:,|$)')


def _simple(value: str) -> list[tuple[str, str]] | None:
    """`Name <a@b>` and `a@b` items, comma-separated: most address headers, read without
    getaddresses' character-by-character parser (a quarter of a small message's parse).
    None when anything else is there (quotes, comments, groups, routes)."""
    found = []
    pos = 0
    while pos < len(value):
        item = _SIMPLE.match(value, pos)
        if item is None or item.end() == pos:
            return None
        name, bracketed, bare = item.groups()
        found.append((" ".join(name.split()) if name else "", bracketed or bare))
        pos = item.end()
    return found


def addresses(values: list[bytes]) -> list[dict[str, Any]]:
    """The addresses of address header values: display names decoded, addresses as given
    (an SMTPUTF8 local part stays UTF-8); empty groups and empty entries left out."""
    found: list[dict[str, Any]] = []
    for value in values:
        text = unfold(value)
        pairs = _simple(text)
        for name, address in getaddresses([text]) if pairs is None else pairs:
            if name or address:
                found.append({"name": decode_words(name), "address": address})
    return found


def valid(value: str) -> str:
    """`value` with any lone surrogate replaced by U+FFFD: always encodable as UTF-8."""
    if value.isascii():
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", value)
    return value
