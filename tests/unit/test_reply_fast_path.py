"""reply_text's shortcuts give what the library gives.

`reference` below is reply_text as it was before its line filters: every regex searched the
whole text, the library called on every text with its own signature and disclaimer patterns.
The shortcuts (LineStarts pre-filters for _CUT and the signature pattern, the "mail" check for
disclaimers, the call skipped when the text has nothing either could match) must give the
same result on every text: the reply corpus, the mail corpus, random texts made of the
phrases the patterns look for, and hypothesis' texts.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mailparser_reply.parser import EmailMessage

from hookmail.core import line_starts, payload, reply
from tests.unit.test_reply_text import REPLIES

CORPUS = Path(__file__).parent.parent / "data" / "mail"

_HEADER_HINT = re.compile(r"[:\uff1a]|-----")


def _library(parser: reply._Parser, text: str) -> str:
    start_at = _HEADER_HINT.search(text)
    if start_at is not None:
        start = start_at.start()
        for _ in range(3):
            start = text.rfind("\n", 0, max(start - 1, 0)) + 1 if start > 0 else 0
        found = parser.headers.search(text, start)
        if found is not None:
            text = text[: found.start()]
    patterns = {
        "_header_regex": reply._NoHeaders(),
        "_disclaimers_regex": parser.disclaimers.pattern,
        "_signature_regex": parser.signature.pattern,  # the library's own search
    }
    message = EmailMessage(text=text, languages=list(parser.languages), **patterns)
    message.read()
    return message.replies[0].body if message.replies else ""


def reference(text: str | None) -> str | None:
    if not text:
        return None
    text = reply._BLANK_RUNS.sub("\n\n", text[: reply.MAX_TEXT])
    cut = reply._CUT.search(text)
    if cut is not None:
        text = text[: cut.start()]
    if ">" in text:
        text = reply._QUOTED.sub("", text)
    return _library(reply._EVERY if reply._CJK_TEXT.search(text) else reply._WESTERN, text)


def test_the_filters_are_derived_from_the_library_patterns() -> None:
    for parser in (reply._WESTERN, reply._EVERY):
        assert parser.signature.lines is not None  # the pattern is the one they know
        assert not parser.signature.lines.everywhere
        assert parser.disclaimers.lower == "mail"
    assert not reply._CUT_LINES.everywhere


# What the patterns look for, in several cases and with the characters that case folding
# relates to ASCII (Kelvin sign, long s, dotted and dotless i), and prose around them.
PHRASES = (
    "Best regards,", "best REGARDS", "Kind Regards", "Thanks,", "thanks", "Thank you,",
    "Best,", "All the best", "regards,", "Sent from my iPhone", "sent from my phone",
    "Get Outlook for iOS", "Gesendet von", "Mit freundlichen Grüßen", "Viele Grüße",
    "Gruss", "Grüsse", "Hälsningar", "Mvh", "MVH", "/sig", "/Anna", "--", "-- ", "__",
    "- item", "-x", "_" * 33, "-" * 40, " " + "_" * 32, "Cordialement", "Saludos,",
    "Met vriendelijke groet", "Z poważaniem", "Pozdrawiam", "Med venlig hilsen", "Tak",
    "Hilsen", "Cordiali saluti", "Envoyé depuis", "Inviato da", "Enviado desde mi iPad",
    "Verzonden vanaf mijn", "Skickat från min", "Wysłano z", "Sendt fra min",
    "Odesláno z mého", "S pozdravem,", "Disclaimer:", "CAUTION: this e-mail", "mail",
    "email", "MAIL", "gmail.com", "Confidential: this mail", "Hinweis: diese Mail",
    "Important Notice: mail", "*Disclaimer*", "maİl", "ma\u0131l", "Than\u017f",
    "\u212aind regards", "Be\u017ft regards", "\u0130nviato da",
    "On Mon, 3 Mar 2025 Alice wrote:", "wrote:",
    "Am Montag schrieb Alice:", "From: a@b.c", "Sent: today", "To: x", "Subject: y",
    "Von: a", "An: b", "-----Original Message-----", "---------- Forwarded message ---------",
    "Begin forwarded message:", "El lun, Alice escribió:", "Le lun., Alice a écrit :",
    "Von meinem iPhone gesendet", "Envoyé de mon iPhone", "Inviato dal mio iPhone",
    "Verzonden met mijn iPhone", "Début du message réexpédié :", "> quoted", ">> deeper",
    "> Best regards,", ">", "The quick brown fox", "Hello there", "I think so", "Then",
    "There", "Thursday", "Bestätigung", "Grand", "Anfang", "Lemon", "Elephant", "Ende",
    "Über", "À bientôt", "Ça va", "東京", "2025年3月3日(月) 14:02 Alice <a@b.c>:",
    "감사합니다,", "谢谢\uff0c", "免责声明\uff1a", "", " ", "\t", "\u00a0", "\u2028", "\r", "x",
)  # fmt: skip
GLUE = ("\n", "\n", "\n\n", " ", "", "\r\n", "\n\n\n", "\n \n", ":", ".", "\u00a0\n")


def _random_text(rng: random.Random) -> str:
    return "".join(
        rng.choice(PHRASES) + rng.choice(GLUE) for _ in range(rng.randint(0, rng.choice((5, 40))))
    )


def _corpus_texts() -> list[str]:
    texts = [str(param.values[0]) for param in REPLIES]
    texts += [payload.parse(path.read_bytes())["text"] for path in sorted(CORPUS.glob("*.eml"))]
    return texts


@pytest.mark.parametrize("index", range(len(_corpus_texts())))
def test_the_corpus_gives_what_the_library_gives(index: int) -> None:
    text = _corpus_texts()[index]
    assert reply.reply_text(text) == reference(text)


def test_random_texts_give_what_the_library_gives() -> None:
    rng = random.Random(11)
    fast = 0
    for _ in range(3000):
        text = _random_text(rng)
        assert reply.reply_text(text) == reference(text), repr(text)
        normalized = reply._normalized(text)
        fast += not reply._WESTERN.signature.lines.candidates(normalized)  # type: ignore[union-attr]
    assert fast > 300  # both paths are taken


def test_prose_takes_the_fast_path() -> None:
    line = "The quick brown fox jumps over the lazy dog; 0123456789 ABCDEFGHIJKLMNOPQRST.\n"
    text = line * 26
    assert not reply._WESTERN.signature.lines.candidates(reply._normalized(text))  # type: ignore[union-attr]
    assert not reply._CUT_LINES.candidates(text)
    assert reply.reply_text(text) == reference(text) == text.strip()


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(st.sampled_from(PHRASES + GLUE), st.text(max_size=8)), max_size=30))
def test_hypothesis_texts_give_what_the_library_gives(pieces: list[str]) -> None:
    text = "".join(pieces)
    assert reply.reply_text(text) == reference(text)


# LineStarts itself: no line start where the pattern matches is ever left out.
PATTERNS = [
    (reply._CUT.pattern, reply._CUT.flags),
    (r"^(?:> ?)*(?:Best regards|Gr(?:\u00fc|ue)(?:\u00DF|ss)e?|/\w+|Kin[dk])", re.M | re.I),
    (r"^[ \t]*(?:Sent from my|[0-9]{4}年|(?:ab|c){2,3}d|x?y?z?q)", re.M),
    (r"(?i)^(?:stra(?:ss|\u00df)e|k)", re.M),
    (r"^(?:Wysłano z|Ödeslano|x\u00e9y|\u00e9t\u00e9)", re.M | re.I),  # only non-ASCII paths
]


@pytest.mark.parametrize(("pattern", "flags"), PATTERNS)
def test_line_starts_keep_every_line_a_match_starts_at(pattern: str, flags: int) -> None:
    compiled = re.compile(pattern, flags)
    lines = line_starts.LineStarts(pattern, flags)
    pieces = (
        *PHRASES,
        "Straße",
        "STRASSE",
        "\u212a",
        "k",
        "ababd",
        "cccd",
        "yq",
        "q",
        "2025年",
        "WYSŁANO Z",
        "ödeslano",
        "XÉY",
        "ÉTÉ",
        "été",
    )
    rng = random.Random(5)
    hits = 0
    for _ in range(3000):
        text = "".join(rng.choice(pieces) + rng.choice(GLUE) for _ in range(rng.randint(0, 12)))
        kept = set(lines.candidates(text))
        starts = [0] + [i + 1 for i, c in enumerate(text) if c == "\n" and i + 1 < len(text)]
        for start in starts:
            if compiled.match(text, start):
                hits += 1
                assert start in kept, (text, start)
    assert hits > 100


def test_required_finds_the_literal_every_match_holds() -> None:
    assert line_starts.required(r"(?:a|b)x(?:yz)+(?:q|r)") == "yz"
    assert line_starts.required(r"ab(?:cd)e") == "abcde"
    assert line_starts.required(r"a?b*") == ""
    pattern = reply._WESTERN.disclaimers.pattern
    rng = random.Random(3)
    for _ in range(2000):
        text = _random_text(rng)
        for found in pattern.finditer(text):
            assert re.search("mail", found.group(), re.I), text


def test_an_unknown_pattern_leaves_the_filters_out() -> None:
    with pytest.raises(line_starts.Unsupported):
        line_starts.LineStarts(r"(a)\1")
    assert line_starts.LineStarts(r"\w+").everywhere
