"""`reply_text`: the new part of a reply, without quoted history or signature (SPEC §6.6).

mail-parser-reply does the work: it knows the "On … wrote:" lines and Outlook header blocks
of thirteen languages (the Japanese, Korean and Chinese ones are used only for a text with
such characters: they cost ten times the others), and the usual signature openings. Before
it runs, three cheap steps that it lacks or that keep it fast: the text is cut at the first
forwarded-message marker (Gmail's and Apple Mail's, in several languages), at Gmail's
Spanish and French "wrote" lines (the library's patterns miss them) and at a phone client's
"sent from my …" line in the languages it misses; and every `>`-quoted line is dropped, so
its regular expressions see only the new text (they cost about 7 µs per quoted line
otherwise). Only the first `MAX_TEXT` characters are read: a reply longer than that is cut
there. The patterns are tried only at the lines whose first characters could begin a match
(`core.line_starts`), and a text with no such line and no "mail" in it (what every
disclaimer holds) is not handed to the library at all: it would return it as it is,
normalised and stripped.
"""

from __future__ import annotations

import re
from typing import Any

from mailparser_reply.constants import MAIL_LANGUAGES
from mailparser_reply.parser import EmailMessage

from hookmail.core import line_starts

MAX_TEXT = 16 * 1024

_ALL = [name for name in MAIL_LANGUAGES if len(name) == 2]  # not the test "language"
_CJK = ("ja", "ko", "zh")
# The library's Japanese, Korean and Chinese patterns make its header search some ten times
# slower on any text; they are used only for a text that has such characters.
_CJK_TEXT = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af\uff00-\uffef]")


class _NoHeaders:
    """Handed to the library as its header pattern once the text is cut at the first
    header: nothing left to split."""

    def findall(self, text: str) -> list[tuple[str, ...]]:
        return []


# Where a match of the library's signature pattern can start (see _LineStartSearch).
_NEWLINE_RUN = re.compile(r"\s*\n\s*")

# The library's signature pattern, as version 1.36 builds it (its "{1,3}" in an f-string
# became "(1, 3)"): its four alternatives, then the rest of the text. Each alternative
# begins with `\s*^`, `\n{2,}` or `(?<!\A)^`; what follows is what the line it reaches must
# begin with, and that is what the line filter is derived from.
_SIGNATURE = (
    r"((\s*^(?:> ?)*(?:[-_]{2}\n|- ?\w).*|(\n{2,} ?[_-]{32,})|\s*^(?:> ?)*(?:@SENT_FROM@)"
    r" ?(?:(?:[\w.<>:// ]+)|(?:\w+ )(1, 3))$|(?<!\A)^(?:> ?)*(?:@SIGNATURES@))(.|\s)*)"
)
_SIGNATURE_LINES = (
    r"(?:> ?)*(?:[-_]{2}\n|- ?\w)|(?: ?[_-]{32,})"
    r"|(?:> ?)*(?:@SENT_FROM@)|(?:> ?)*(?:@SIGNATURES@)"
)


def _signature_lines(prototype: EmailMessage) -> line_starts.LineStarts | None:
    """The lines a match of the library's signature pattern can reach (see _LineStartSearch);
    None when its pattern is not the one this was derived for (another version)."""

    def joined(key: str) -> str:
        found = (
            prototype._get_language_regex(language=name, regex_key=key)
            for name in prototype.languages
        )
        return "|".join(part for part in found if part)

    def filled(template: str) -> str:
        sent_from = template.replace("@SENT_FROM@", joined("sent_from"))
        return sent_from.replace("@SIGNATURES@", joined("signatures"))

    signature = prototype.SIGNATURE_REGEX
    if signature.pattern != filled(_SIGNATURE):
        return None
    try:
        return line_starts.LineStarts(filled(_SIGNATURE_LINES), signature.flags)
    except line_starts.Unsupported:
        return None


class _LineStartSearch:
    """The library's signature pattern, tried only where a match can start.

    Each of its alternatives begins with `\\s*^`, `\n` or `(?<!\\A)^` (MULTILINE), so a match
    starts at the text's start, at a line start, at a newline, or at the first character of
    a whitespace run that reaches a line start (`\\s*` then takes the rest of the run). Trying
    `match` at exactly those positions, in order, gives the match `search` would give, while
    `search` tries every alternative at every character: on a 2 KB text of prose, 0.17 ms
    of the 0.25 ms reply_text took.

    With `lines`, fewer still: every alternative goes through whitespace only (`\\s*`,
    `\n{2,}`, or nothing) to a line start, and what it matches there is one of the few
    openings `_SIGNATURE_LINES` lists, so a match starts in the whitespace run just before
    a line that `lines` keeps as a candidate. A text of prose has none: then no match is
    tried at all. tests/unit/test_reply_search.py compares both with `search` on many texts."""

    def __init__(self, pattern: re.Pattern[str], lines: line_starts.LineStarts | None) -> None:
        self.pattern = pattern
        self.lines = lines

    def starts(self, text: str) -> list[int]:
        """Where a match can start, in order."""
        if self.lines is None:
            found = {0}
            for run in _NEWLINE_RUN.finditer(text):
                start, end = run.span()
                found.add(start)
                newline = text.find("\n", start, end)
                while newline != -1:
                    found.update((newline, newline + 1))
                    newline = text.find("\n", newline + 1, end)
            return sorted(found)
        found = set()
        for line in self.lines.candidates(text):
            found.add(line)
            start = line
            while start > 0 and text[start - 1].isspace():  # isspace() is sre's \s
                start -= 1
            if start < line:  # the run's start, its newlines and the lines they begin
                found.add(start)
                newline = text.find("\n", start, line)
                while newline != -1:
                    found.update((newline, newline + 1))
                    newline = text.find("\n", newline + 1, line)
        return sorted(found)

    def search(self, text: str) -> re.Match[str] | None:
        for position in self.starts(text):
            if position <= len(text) and (found := self.pattern.match(text, position)):
                return found
        return None


class _Disclaimers:
    """The library's disclaimer pattern, run only on a text that holds the literal every
    match of it holds ("mail", as `line_starts.required` reads the pattern). In ASCII text
    the literal is looked for in the lower-cased text, when sre's IGNORECASE matches each of
    its characters with its two ASCII cases alone (checked here): a regex search with
    IGNORECASE goes character by character, some ten times slower."""

    def __init__(self, pattern: re.Pattern[str]) -> None:
        self.pattern = pattern
        needle = line_starts.required(pattern.pattern, pattern.flags)
        self.needle = re.compile(re.escape(needle), pattern.flags) if needle else None
        self.lower: str | None = None
        if needle.isascii() and pattern.flags & re.IGNORECASE:
            cases = {char: {char.lower(), char.upper()} for char in needle}
            if all(line_starts.ascii_matches(ord(c), pattern.flags) == cases[c] for c in needle):
                self.lower = needle.lower()

    def possible(self, text: str) -> bool:
        if self.needle is None:
            return True
        if self.lower is not None and text.isascii():
            return self.lower in text.lower()
        return self.needle.search(text) is not None

    def findall(self, text: str) -> list[Any]:
        return self.pattern.findall(text) if self.possible(text) else []


def _normalized(text: str) -> str:
    """The text as the library's EmailMessage normalises it, but for the separator lines it
    moves (`re.sub` of OUTLOOK_MAIL_SEPARATOR): a line starting with `-` or `_` is always a
    signature candidate, so that step changes nothing when the fast path is taken."""
    return "\n".join([line.strip() for line in text.replace("\r\n", "\n").split("\n")])


# A header the library knows has a colon on its line or the next two ("On …\nwrote:"), or
# is a dashed separator ("-----Original Message-----"): where its search may begin.
_HEADER_HINTS = (":", "\uff1a", "-----")


def _header_hint(text: str) -> int:
    """Where `[:\uff1a]|-----` would first match in `text`; -1 for nowhere."""
    found = [at for at in (text.find(hint) for hint in _HEADER_HINTS) if at >= 0]
    return min(found) if found else -1


class _Parser:
    """The library's patterns for some languages, compiled once (it compiles them per
    message otherwise).

    Its header search is one alternation of every language's patterns, tried at every
    character of the text: the costliest step by far. So it runs here once, with `search`,
    from two lines before the first line that could hold a header (text without a colon
    can't), and the text is cut at the header it finds; the library then only takes the
    signature and disclaimers off the new part. The library itself would split the whole
    text at every header and return the part before the first: the same text.

    When no line of the normalised text could start a signature and the text lacks what
    every disclaimer holds, the library would return that text stripped: it is not called."""

    def __init__(self, languages: list[str]) -> None:
        self.languages = languages
        prototype = EmailMessage(text="", languages=list(languages))
        self.headers = prototype.HEADER_REGEX
        self.signature = _LineStartSearch(prototype.SIGNATURE_REGEX, _signature_lines(prototype))
        self.disclaimers = _Disclaimers(prototype.DISCLAIMERS_REGEX)
        self.patterns = {
            "_header_regex": _NoHeaders(),
            "_disclaimers_regex": self.disclaimers,
            "_signature_regex": self.signature,
        }

    def reply(self, text: str) -> str:
        start = _header_hint(text)
        if start >= 0:
            for _ in range(3):  # back to the start of the line, then two lines up
                start = text.rfind("\n", 0, max(start - 1, 0)) + 1 if start > 0 else 0
            found = self.headers.search(text, start)
            if found is not None:
                text = text[: found.start()]
        lines = self.signature.lines
        if lines is not None:
            normalized = _normalized(text)
            if not lines.candidates(normalized) and not self.disclaimers.possible(normalized):
                return normalized.strip()
        message = EmailMessage(text=text, languages=list(self.languages), **self.patterns)
        message.read()
        return message.replies[0].body if message.replies else ""


_WESTERN = _Parser([name for name in _ALL if name not in _CJK])
_EVERY = _Parser(_ALL)

_CUT = re.compile(
    r"^[ \t]*(?:"
    # forwarded blocks: Gmail ("---------- Forwarded message ---------") and Apple Mail
    r"-{3,}[ \t]*(?:Forwarded message|Weitergeleitete Nachricht|Message transf[ée]r[ée]"
    r"|Mensaje reenviado|Messaggio inoltrato|Doorgestuurd bericht|Mensagem encaminhada)"
    r"[ \t]*-{3,}"
    r"|Begin forwarded message:|Anfang der weitergeleiteten Nachricht:"
    r"|D[ée]but du message r[ée]exp[ée]di[ée][ \t]*:|Inicio del mensaje reenviado:"
    r"|Inizio messaggio inoltrato:"
    # Gmail's Spanish and French "wrote" lines, which the library's patterns miss
    r"|El [^\n]+(?:\n[^\n]+)? escribi[óo][ \t]*:"
    r"|Le [^\n]+(?:\n[^\n]+)? a [ée]crit[ \t]*:"
    # phone clients' signatures the library misses
    r"|Von meinem \S+(?: \S+)? gesendet|Envoy[ée] de mon \S+(?: \S+)?"
    r"|Inviato da(?:l mio)? \S+(?: \S+)?|Verzonden (?:vanaf|met) mijn \S+(?: \S+)?"
    r")[ \t]*$",
    re.MULTILINE | re.IGNORECASE,
)
# _CUT matches only at a line start (`^`), and only at a line whose first two characters
# begin one of its alternatives: it is tried at those alone (most lines of prose are none)
_CUT_LINES = line_starts.LineStarts(_CUT.pattern, _CUT.flags)
_QUOTED = re.compile(r"^[ \t]*>.*\n?", re.MULTILINE)
_BLANK_RUNS = re.compile(r"\n[ \t]*(?:\n[ \t]*)+\n")


def reply_text(text: str | None) -> str | None:
    """The new part of `text`; None when there is no text."""
    if not text:
        return None
    # runs of blank lines become one: the library's signature pattern starts with \s*^, which
    # retries at every line of a run (16 000 blank lines took minutes; now milliseconds)
    text = _BLANK_RUNS.sub("\n\n", text[:MAX_TEXT])
    for line in _CUT_LINES.candidates(text):  # what _CUT.search(text) finds
        if _CUT.match(text, line):
            text = text[:line]
            break
    if ">" in text:
        text = _QUOTED.sub("", text)
    cjk = not text.isascii() and _CJK_TEXT.search(text) is not None
    return (_EVERY if cjk else _WESTERN).reply(text)
