"""reply_text on replies as real clients write them: Gmail, Outlook and Apple Mail quoting,
in English, German, French and Spanish, with signatures and forwarded blocks (SPEC §6.6)."""

from __future__ import annotations

import pytest

from hookmail.core.reply import MAX_TEXT, reply_text

REPLIES = [
    pytest.param(
        """\
Thanks, that works for me. See you Tuesday.

On Mon, 3 Mar 2025 at 14:02, Alice Example <alice@example.org> wrote:
> Can we meet on Tuesday at 10?
>
> Alice
""",
        "Thanks, that works for me. See you Tuesday.",
        id="gmail-en",
    ),
    pytest.param(
        """\
Sounds good!

On Mon, Mar 3, 2025 at 2:02 PM Alice Example <alice@example.org>
wrote:

> Can we meet on Tuesday at 10?
""",
        "Sounds good!",
        id="gmail-en-wrapped",
    ),
    pytest.param(
        """\
Danke, passt mir gut.

Am Mo., 3. März 2025 um 14:02 Uhr schrieb Alice Beispiel <alice@example.org>:
> Können wir uns am Dienstag treffen?
""",
        "Danke, passt mir gut.",
        id="gmail-de",
    ),
    pytest.param(
        """\
Merci, c'est parfait.

Le lun. 3 mars 2025 à 14:02, Alice Exemple <alice@example.org> a écrit :
> Pouvons-nous nous voir mardi ?
""",
        "Merci, c'est parfait.",
        id="gmail-fr",
    ),
    pytest.param(
        """\
Gracias, me va bien.

El lun, 3 mar 2025 a las 14:02, Alice Ejemplo (<alice@example.org>) escribió:
> ¿Podemos vernos el martes?
""",
        "Gracias, me va bien.",
        id="gmail-es",
    ),
    pytest.param(
        """\
Approved, go ahead.

Best regards,
Bob

________________________________
From: Alice Example <alice@example.org>
Sent: Monday, March 3, 2025 2:02 PM
To: Bob <bob@example.com>
Subject: Budget

Please approve the budget.
""",
        "Approved, go ahead.",
        id="outlook-en",
    ),
    pytest.param(
        """\
Bitte so umsetzen.

Mit freundlichen Grüßen
Bob Muster

Von: Alice Beispiel <alice@example.org>
Gesendet: Montag, 3. März 2025 14:02
An: Bob Muster <bob@example.com>
Betreff: Budget

Bitte das Budget freigeben.
""",
        "Bitte so umsetzen.",
        id="outlook-de",
    ),
    pytest.param(
        """\
D'accord pour moi.

Cordialement,
Bob

De : Alice Exemple <alice@example.org>
Envoyé : lundi 3 mars 2025 14:02
À : Bob <bob@example.com>
Objet : Budget

Merci de valider le budget.
""",
        "D'accord pour moi.",
        id="outlook-fr",
    ),
    pytest.param(
        """\
De acuerdo, adelante.

Saludos,
Bob

De: Alice Ejemplo <alice@example.org>
Enviado: lunes, 3 de marzo de 2025 14:02
Para: Bob <bob@example.com>
Asunto: Presupuesto

Por favor, aprueba el presupuesto.
""",
        "De acuerdo, adelante.",
        id="outlook-es",
    ),
    pytest.param(
        """\
Yes, I'll bring the slides.

Sent from my iPhone

> On 3 Mar 2025, at 14:02, Alice Example <alice@example.org> wrote:
>
> Will you bring the slides?
""",
        "Yes, I'll bring the slides.",
        id="apple-en",
    ),
    pytest.param(
        """\
Ja, mache ich.

Von meinem iPhone gesendet

> Am 03.03.2025 um 14:02 schrieb Alice Beispiel <alice@example.org>:
>
> Bringst du die Folien mit?
""",
        "Ja, mache ich.",
        id="apple-de",
    ),
    pytest.param(
        """\
Oui, je les apporte.

Envoyé de mon iPhone

> Le 3 mars 2025 à 14:02, Alice Exemple <alice@example.org> a écrit :
>
> Tu apportes les diapos ?
""",
        "Oui, je les apporte.",
        id="apple-fr",
    ),
    pytest.param(
        """\
The invoice is attached.

--
Carol Sender
ACME Corp, +1 555 0100
""",
        "The invoice is attached.",
        id="sig-dashdash",
    ),
    pytest.param(
        """\
FYI, see below.

---------- Forwarded message ---------
From: Dave <dave@example.net>
Date: Mon, 3 Mar 2025 at 10:00
Subject: Outage
To: <ops@example.com>

The server is down.
""",
        "FYI, see below.",
        id="forwarded-en",
    ),
    pytest.param(
        """\
Just a note with no quoted history.
Second line.
""",
        "Just a note with no quoted history.\nSecond line.",
        id="plain-no-quote",
    ),
]


@pytest.mark.parametrize(("text", "expected"), REPLIES)
def test_the_new_part_of_a_reply_is_kept_and_the_rest_left_out(text: str, expected: str) -> None:
    assert reply_text(text) == expected


def test_a_signature_after_the_usual_delimiter_is_left_out() -> None:
    text = "Here is the report.\n\n-- \nDana Writer\nHead of Reports\n+49 30 1234567\n"
    assert reply_text(text) == "Here is the report."


def test_no_text_gives_null() -> None:
    assert reply_text(None) is None
    assert reply_text("") is None


def test_only_the_first_part_of_a_very_long_text_is_read() -> None:
    text = "line of a long message without quotes\n" * 10_000
    found = reply_text(text)
    assert found is not None
    assert len(found) <= MAX_TEXT
    assert found.startswith("line of a long message")
