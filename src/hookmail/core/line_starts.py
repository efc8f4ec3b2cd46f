"""Which lines of a text a regular expression could match at: an exact pre-filter.

sre tries a pattern at every position of a text, and an alternation of many phrases (the
signature openings and "wrote" lines of mail-parser-reply, in ten languages) costs some
microseconds at each position it is tried. Yet most lines of a text can't start a match: their
first two characters already rule out every alternative. `LineStarts` reads the pattern with
the stdlib's own parser (`re._parser`, what `re.compile` uses) and derives the pairs of
characters a match can begin with; `candidates` gives the line starts of a text whose first
two characters are such a pair. Whatever the derivation can't follow is taken as "any
character", so the pairs are always a superset: a line start left out can't start a match.

How characters compare under the pattern's flags (IGNORECASE: `K` and the Kelvin sign,
`s` and the long s) is decided by sre itself, for ASCII characters; a non-ASCII character in
the first two of a line makes that line a candidate.

`required` gives a literal that every match of a pattern contains, for a cheap `in`-style
pre-check with the same flags.
"""

from __future__ import annotations

import re
from importlib import import_module
from typing import Any

_parser: Any = import_module("re._parser")  # the stdlib's regex parser (no stubs)

Chars = frozenset[int] | None  # the characters one position may hold; None: any
Prefix = tuple[Chars, ...]

_K = 4  # characters of prefix derived (candidates() reads four)
_MAX_RANGE = 4096  # a wider character range is taken as "any"
_ASCII = [chr(c) for c in range(128)]


class Unsupported(Exception):
    """The pattern holds something the derivation does not follow (a back reference, a
    flag set inside a group); the caller then does without the pre-filter."""


def _sequence(items: Any) -> set[Prefix]:
    """The prefixes (at most _K positions) of what a sequence of items can match. One shorter
    than _K means the match can end there: what follows it is free."""
    partial: set[Prefix] = {()}
    done: set[Prefix] = set()
    for op, av in items:
        following = _item(op, av)
        grown: set[Prefix] = set()
        for head in partial:
            for tail in following:
                joined = head + tail
                (done if len(joined) >= _K else grown).add(joined[:_K])
        partial = grown
        if not partial:
            break
    return done | partial


def _item(op: Any, av: Any) -> set[Prefix]:
    if op is _parser.LITERAL:
        return {(frozenset((av,)),)}
    if op in (_parser.NOT_LITERAL, _parser.ANY):
        return {(None,)}
    if op is _parser.IN:
        return {(_chars(av),)}
    if op is _parser.BRANCH:
        return set().union(*(_sequence(branch) for branch in av[1]))
    if op is _parser.SUBPATTERN:
        _group, add_flags, del_flags, items = av
        if add_flags or del_flags:
            raise Unsupported("flags set inside a group")
        return _sequence(items)
    if op is _parser.ATOMIC_GROUP:
        return _sequence(av)
    if op in (_parser.MAX_REPEAT, _parser.MIN_REPEAT, _parser.POSSESSIVE_REPEAT):
        low, high, items = av
        # more than low + _K repetitions add nothing to the first _K characters: the
        # repetitions that match nothing could as well come last
        found: set[Prefix] = set()
        for count in range(low, min(high, low + _K) + 1):
            found |= _sequence(list(items) * count)
        return found
    if op in (_parser.AT, _parser.ASSERT, _parser.ASSERT_NOT):
        return {()}  # zero width; its condition ignored, which only widens the result
    raise Unsupported(str(op))


def _chars(items: Any) -> Chars:
    found: set[int] = set()
    for op, av in items:
        if op is _parser.LITERAL:
            found.add(av)
        elif op is _parser.RANGE and av[1] - av[0] < _MAX_RANGE:
            found.update(range(av[0], av[1] + 1))
        else:  # a category (\w, \s), a negated set, a wide range: any character
            return None
    return frozenset(found)


def _ascii_matches(chars: Chars, flags: int) -> frozenset[str]:
    """The ASCII characters that match one of `chars` under `flags`, as sre decides it."""
    if chars is None:
        return frozenset(_ASCII)
    members = "".join(re.escape(chr(c)) for c in sorted(chars))
    one_of = re.compile(f"[{members}]", flags & (re.IGNORECASE | re.ASCII | re.LOCALE))
    return frozenset(c for c in _ASCII if one_of.fullmatch(c))


def ascii_matches(char: int, flags: int) -> frozenset[str]:
    """The ASCII characters that match the character `char` under `flags`."""
    return _ascii_matches(frozenset((char,)), flags)


class LineStarts:
    """The line starts of a text where `pattern` (with `flags`) could match."""

    def __init__(self, pattern: str, flags: int = 0) -> None:
        flags = re.compile(pattern, flags).flags  # with any inline (?i) at its start
        prefixes = _sequence(_parser.parse(pattern, flags))
        # the ASCII strings a match can begin with, by length: each prefix up to its first
        # "any character" position, or to its end; and all their beginnings
        self.exact: list[set[str]] = [set() for _ in range(_K + 1)]
        self.partial: set[str] = set()
        self.everywhere = False
        for prefix in prefixes:
            known = prefix.index(None) if None in prefix else len(prefix)
            if not known:
                self.everywhere = True
                break
            strings = [""]
            for chars in prefix[:known]:
                # kept even when no ASCII character can come next: a non-ASCII one may
                self.partial.update(strings)
                matches = _ascii_matches(chars, flags)
                strings = [s + c for s in strings for c in matches]
            self.exact[known].update(strings)
        self.firsts = {s[0] for s in self.partial if s}
        self.firsts.update(s[0] for strings in self.exact for s in strings)

    def candidates(self, text: str) -> list[int]:
        """The line starts (0 and each position after a newline) of `text` whose first
        characters could begin a match, in order. At the end of the text nothing could.

        A line is a candidate when it begins with one of the ASCII strings, or when a
        non-ASCII character comes before its first characters rule them all out (that
        character might match by case folding)."""
        end = len(text)
        if self.everywhere:
            return [0] + [i + 1 for i, c in enumerate(text) if c == "\n" and i + 1 < end]
        _, one, two, three, four = self.exact
        firsts = self.firsts
        found = []
        start = 0
        while start < end:
            first = text[start]
            if first in firsts or not first.isascii():
                head = text[start : start + 4]
                if (
                    head in four
                    or head[:3] in three
                    or head[:2] in two
                    or first in one
                    or (not head.isascii() and self._folded(head))
                ):
                    found.append(start)
            start = text.find("\n", start) + 1
            if not start:
                break
        return found

    def _folded(self, head: str) -> bool:
        """Whether what comes before the first non-ASCII character of `head` begins one of
        the strings: that character might match by case folding."""
        ascii = next(n for n, c in enumerate(head) if not c.isascii())
        return head[:ascii] in self.partial


def required(pattern: str, flags: int = 0) -> str:
    """The longest literal every match of `pattern` contains ("" when none is known): runs
    of literal characters in its top-level sequence, in its groups and in the repeated
    groups that must occur at least once."""
    runs: list[str] = []
    _runs(_parser.parse(pattern, flags), runs)
    return max(runs, key=len, default="")


def _runs(items: Any, runs: list[str]) -> None:
    current: list[str] = []

    def close() -> None:
        if current:
            runs.append("".join(current))
            current.clear()

    def walk(items: Any) -> None:
        for op, av in items:
            if op is _parser.LITERAL:
                current.append(chr(av))
            elif op is _parser.SUBPATTERN and not (av[1] or av[2]):
                walk(av[3])  # a group's items are consecutive with what is around them
            elif op in (_parser.MAX_REPEAT, _parser.MIN_REPEAT) and av[0] >= 1:
                close()
                _runs(av[2], runs)
            else:  # anything else may match something else between two literals
                close()

    walk(items)
    close()
