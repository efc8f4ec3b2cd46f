"""reply_text's signature search tries the library's pattern only where a match can start;
it must find exactly what the library's own `search` finds."""

from __future__ import annotations

import random

import pytest

from hookmail.core import reply

PIECES = (
    "Best regards,", "--", "- x", "Thanks,", "Sent from my iPhone", "hello", "world", "  ",
    "\n", "\n\n", "\t", "> ", ">", "_" * 40, "Mit freundlichen Grüßen", "Hi,", "-", "__",
    "Cheers", "Gesendet von", "\r\n", " ", "x", "\u2028", "Mvh", "/sig", "\u00a0",
    "Wysłano z", "The", "Thank", "Tak", "_____", "\u212aind regards", "Be\u017ft,",
)  # fmt: skip


@pytest.mark.parametrize("parser", [reply._WESTERN, reply._EVERY], ids=["western", "every"])
@pytest.mark.parametrize("filtered", [True, False], ids=["line-filter", "no-line-filter"])
def test_the_line_start_search_finds_what_search_finds(
    parser: reply._Parser, filtered: bool
) -> None:
    fast = parser.patterns["_signature_regex"]
    assert isinstance(fast, reply._LineStartSearch)
    assert fast.lines is not None
    if not filtered:  # as with a library version whose pattern the filter was not made for
        fast = reply._LineStartSearch(fast.pattern, None)
    rng = random.Random(7)
    for _ in range(3000):
        text = "".join(
            rng.choice(PIECES) + rng.choice(("", " ", "\n")) for _ in range(rng.randint(0, 30))
        )
        expected, found = fast.pattern.search(text), fast.search(text)
        assert (expected is None) == (found is None), repr(text)
        if expected is not None and found is not None:
            assert (found.span(), found.groups()) == (expected.span(), expected.groups())
