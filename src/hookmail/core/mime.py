"""A bounded walk over a MIME message's raw bytes: header blocks and body offsets.

Why not the stdlib parser on the whole message: it reads every line of it into Python
strings before any bound can apply, so 500 000 empty parts cost it 30 s and 300 MB, and a
25 MiB message becomes some 340 000 line strings. This walk searches each multipart's
boundary lines in the raw bytes (a C-speed regex search, lazily, part by part), stops at
MAX_PARTS parts and MAX_DEPTH levels, and keeps bodies as offsets into the raw message, so a
part is copied only when it is read, and one past the bounds never is. What it splits is
what the stdlib's feedparser would split: a header block ends at the first empty line or
the first line that is not a header; a delimiter is `--boundary`, optionally `--`, optional
blanks, at the start of a line, and the line break before it belongs to it.

Each part's header fields go into a stdlib `Message` (compat32, values decoded by
`header_values.text`), so get_content_type, get_param (RFC 2231),
get_filename and get_payload(decode=True) are the stdlib's own.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from email.message import Message
from itertools import chain

from hookmail.core import header_values
from hookmail.core.mail import normalise_line_endings

MAX_PARTS = 1000
MAX_DEPTH = 30

_NAME = re.compile(rb"[\041-\071\073-\176]+:")  # a header field name and its colon
_IDENTITY = {"", "7bit", "8bit", "binary"}
_MISSES = 32  # see _Delimiters
_SLOW_BUDGET = 4  # times the message's size (see Scan)
_MALFORMED = "the MIME structure is malformed ({}); parsed as far as possible"


class Leaf:
    """A part with a body (not multipart): its header fields, its content type (lower-case,
    read once) and its body's offsets."""

    __slots__ = ("content_type", "end", "message", "start")

    def __init__(self, message: Message, content_type: str, start: int, end: int) -> None:
        self.message = message
        self.content_type = content_type
        self.start = start
        self.end = end


class Scan:
    """The message's own header fields (name, folded raw value), and its leaves in order."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self.fields: list[tuple[str, bytes]] = []
        self.leaves: list[Leaf] = []
        self.notes: list[str] = []
        self.parts = 0
        # bytes the slow delimiter search (see _Delimiters) may still go over: a message of
        # lines that only look like delimiters, nested 30 deep, would cost seconds otherwise
        self.slow_budget = _SLOW_BUDGET * len(raw) + 2**20

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def part(self, start: int, end: int, depth: int, default_type: str = "text/plain") -> None:
        if self.parts >= MAX_PARTS:
            self.note(f"more than {MAX_PARTS} MIME parts; the rest were left out")
            return
        if depth > MAX_DEPTH:
            self.note(f"MIME nested deeper than {MAX_DEPTH}; deeper parts left out")
            return
        self.parts += 1
        fields, body = header_block(self.raw, start, end)
        if depth == 0:
            self.fields = fields
        message = _message(fields, default_type)
        content_type = message.get_content_type()
        boundary = message.get_boundary() if content_type.startswith("multipart/") else None
        children = self._children(boundary, body, end) if boundary else iter(())
        first = next(children, None)
        if first is not None:  # else, as the stdlib does, the body is one part of its own
            child_type = "message/rfc822" if content_type == "multipart/digest" else ""
            for child_start, child_end in chain([first], children):
                if self.parts >= MAX_PARTS:
                    self.note(f"more than {MAX_PARTS} MIME parts; the rest were left out")
                    return
                self.part(child_start, child_end, depth + 1, child_type or "text/plain")
        elif content_type == "message/rfc822" and _identity(message):
            self.part(body, end, depth + 1)
        else:
            self.leaves.append(Leaf(message, content_type, body, end))

    def _children(self, boundary: str, start: int, end: int) -> Iterator[tuple[int, int]]:
        """The (start, end) of each part between `--boundary` lines, lazily: parts past a
        bound are never searched for. The preamble and the epilogue are skipped."""
        delimiters = _Delimiters(self, boundary.encode("utf-8"))  # see header_values.text
        found = delimiters.first(start, end)
        if found is None:
            self.note(_MALFORMED.format("a multipart part has no boundary line"))
        while found is not None and not found[2]:
            part_start = found[1]
            # search from the line break that ended the delimiter: the next line may be one
            found = delimiters.after(max(start, part_start - 2), end)
            if found is None:
                self.note(_MALFORMED.format("a multipart part is not closed"))
                yield part_start, end  # the last part runs to the end
                return
            if found[0] >= part_start:  # adjacent delimiters make no part (as the stdlib)
                yield part_start, found[0]


class _Delimiters:
    """Finds the `--boundary` lines of one multipart: (where the line break before the line
    starts, where the next line starts, whether it is the closing one). bytes.find does it
    while lines that only start like a delimiter are few (no regex to compile for a usual
    message); past _MISSES of them, a compiled regex searches the rest at C speed."""

    def __init__(self, scan: Scan, boundary: bytes) -> None:
        self.scan = scan
        self.raw = scan.raw
        self.marker = b"\r\n--" + boundary
        self.misses = 0
        self.pattern: re.Pattern[bytes] | None = None

    def _rest(self, pos: int, end: int) -> tuple[int, bool] | None:
        """After a marker at `pos`: optionally `--`, blanks, then a line break or the end."""
        raw = self.raw
        closing = raw.startswith(b"--", pos, end)
        pos += 2 if closing else 0
        while pos < end and raw[pos] in (0x20, 0x09):
            pos += 1
        if pos >= end:
            return end, closing
        return (pos + 2, closing) if raw.startswith(b"\r\n", pos, end) else None

    def first(self, start: int, end: int) -> tuple[int, int, bool] | None:
        """The first delimiter; it may open the body, with no line break before it."""
        if self.raw.startswith(self.marker[2:], start, end):
            rest = self._rest(start + len(self.marker) - 2, end)
            if rest is not None:
                return start, rest[0], rest[1]
        return self.after(start, end)

    def after(self, pos: int, end: int) -> tuple[int, int, bool] | None:
        while self.pattern is None:
            at = self.raw.find(self.marker, pos, end)
            if at < 0:
                return None
            rest = self._rest(at + len(self.marker), end)
            if rest is not None:
                return at, rest[0], rest[1]
            self.misses += 1
            if self.misses > _MISSES:
                self.pattern = re.compile(re.escape(self.marker) + rb"(--)?[ \t]*(?:\r\n|\Z)")
            pos = at + 1
        found = self.pattern.search(self.raw, pos, end)
        self.scan.slow_budget -= (end if found is None else found.end()) - pos
        if self.scan.slow_budget < 0:
            raise _TooCostly
        return None if found is None else (found.start(), found.end(), bool(found.group(1)))


class _TooCostly(Exception):
    """The slow delimiter search went past Scan.slow_budget."""


def scan(raw: bytes) -> Scan:
    """Walk `raw` within MAX_PARTS and MAX_DEPTH. Line endings are CRLF as the SMTP side
    stores a message; one whose first line ends in a bare LF (a message from elsewhere) is
    normalised first, and `Scan.raw` is always the bytes the offsets point into. Only the
    first line is looked at: counting line endings would add two passes over 25 MiB."""
    first = raw.find(b"\n")
    if first == 0 or (first > 0 and raw[first - 1] != 0x0D):
        raw = normalise_line_endings(raw)
    found = Scan(raw)
    try:
        found.part(0, len(raw), 0)
    except _TooCostly:
        found.note("the MIME structure is too costly to split further; the rest was left out")
    return found


def header_block(raw: bytes, start: int, end: int) -> tuple[list[tuple[str, bytes]], int]:
    """The header fields of the part at `start` (values folded, CRLF kept between lines, as
    the stdlib keeps them) and where its body begins."""
    lines: list[tuple[str, list[bytes]]] = []
    pos = start
    body = end
    while pos < end:
        eol = raw.find(b"\r\n", pos, end)
        if eol < 0:
            eol = end
        if eol == pos:  # the empty line
            body = min(end, eol + 2)
            break
        if raw[pos] in b" \t":
            if lines:  # a continuation; one before any field is dropped, as the stdlib does
                lines[-1][1].append(raw[pos:eol])
        else:
            named = _NAME.match(raw, pos, eol)
            if named is not None:
                name = raw[pos : named.end() - 1].decode("ascii")
                lines.append((name, [raw[named.end() : eol].lstrip(b" \t")]))
            elif not (pos == start and raw.startswith(b"From ", pos)):  # not an mbox line
                body = pos  # the body begins without an empty line
                break
        pos = eol + 2
    return [(name, b"\r\n".join(value)) for name, value in lines], body


def _message(fields: list[tuple[str, bytes]], default_type: str) -> Message:
    message = Message()
    if default_type != "text/plain":
        message.set_default_type(default_type)
    for name, value in fields:
        # decoded here: compat32 would turn 8-bit bytes into U+FFFD when a value is read
        message.set_raw(name, header_values.text(value))
    return message


def _identity(message: Message) -> bool:
    return str(message.get("Content-Transfer-Encoding", "")).strip().lower() in _IDENTITY
