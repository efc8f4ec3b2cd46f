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
there.
"""

from __future__ import annotations

import re

from mailparser_reply.constants import MAIL_LANGUAGES
from mailparser_reply.parser import EmailMessage

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


class _LineStartSearch:
    """The library's signature pattern, tried only where a match can start.

    Each of its alternatives begins with `\\s*^`, `\n` or `(?<!\\A)^` (MULTILINE), so a match
    starts at the text's start, at a line start, at a newline, or at the first character of
    a whitespace run that reaches a line start (`\\s*` then takes the rest of the run). Trying
    `match` at exactly those positions, in order, gives the match `search` would give, while
    `search` tries every alternative at every character: on a 2 KB text of prose, 0.17 ms
    of the 0.25 ms reply_text took (the delivery worker's largest cost per message after
    the store). tests/unit/test_reply_text.py compares both on many texts."""

    def __init__(self, pattern: re.Pattern[str]) -> None:
        self.pattern = pattern

    def search(self, text: str) -> re.Match[str] | None:
        starts = {0}
        for run in _NEWLINE_RUN.finditer(text):
            start, end = run.span()
            starts.add(start)
            newline = text.find("\n", start, end)
            while newline != -1:
                starts.update((newline, newline + 1))
                newline = text.find("\n", newline + 1, end)
        for position in sorted(starts):
            if position <= len(text) and (found := self.pattern.match(text, position)):
                return found
        return None


# A header the library knows has a colon on its line or the next two ("On …\nwrote:"), or
# is a dashed separator ("-----Original Message-----"): where its search may begin.
_HEADER_HINT = re.compile(r"[:\uff1a]|-----")


class _Parser:
    """The library's patterns for some languages, compiled once (it compiles them per
    message otherwise).

    Its header search is one alternation of every language's patterns, tried at every
    character of the text: the costliest step by far. So it runs here once, with `search`,
    from two lines before the first line that could hold a header (text without a colon
    can't), and the text is cut at the header it finds; the library then only takes the
    signature and disclaimers off the new part. The library itself would split the whole
    text at every header and return the part before the first: the same text."""

    def __init__(self, languages: list[str]) -> None:
        self.languages = languages
        prototype = EmailMessage(text="", languages=list(languages))
        self.headers = prototype.HEADER_REGEX
        self.patterns = {
            "_header_regex": _NoHeaders(),
            "_disclaimers_regex": prototype.DISCLAIMERS_REGEX,
            "_signature_regex": _LineStartSearch(prototype.SIGNATURE_REGEX),
        }

    def reply(self, text: str) -> str:
        hint = _HEADER_HINT.search(text)
        if hint is not None:
            start = hint.start()
            for _ in range(3):  # back to the start of the line, then two lines up
                start = text.rfind("\n", 0, max(start - 1, 0)) + 1 if start > 0 else 0
            found = self.headers.search(text, start)
            if found is not None:
                text = text[: found.start()]
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
_QUOTED = re.compile(r"^[ \t]*>.*\n?", re.MULTILINE)
_BLANK_RUNS = re.compile(r"\n[ \t]*(?:\n[ \t]*)+\n")


def reply_text(text: str | None) -> str | None:
    """The new part of `text`; None when there is no text."""
    if not text:
        return None
    # runs of blank lines become one: the library's signature pattern starts with \s*^, which
    # retries at every line of a run (16 000 blank lines took minutes; now milliseconds)
    text = _BLANK_RUNS.sub("\n\n", text[:MAX_TEXT])
    cut = _CUT.search(text)
    if cut is not None:
        text = text[: cut.start()]
    if ">" in text:
        text = _QUOTED.sub("", text)
    return (_EVERY if _CJK_TEXT.search(text) else _WESTERN).reply(text)
