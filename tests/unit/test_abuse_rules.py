"""Issue 10's pure rules: credential caps before hashing, public-domain role names, the email
normal form, paging."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hookmail.core.accounts import email_normal_form
from hookmail.core.errors import InvalidField
from hookmail.core.paging import Page
from hookmail.core.smtp_policies import MASK, Credential, parse_credentials
from hookmail.core.webhooks import Address


class CountingHash:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, user: str, password: str) -> str:
        self.calls += 1
        return f"h({password})"


@pytest.mark.parametrize(
    "raw",
    [
        ",".join(f"user{n}:password{n}" for n in range(21)),
        ",".join(f"user{n}:password{n}" for n in range(2000)),
        "\n".join(f"u{n}:p" for n in range(20)) + "\n" + "x" * 65 + ":p",
        "a:ok,b:ok,c:" + "p" * 257,
        "a:ok,b:ok,c:ok,a:again",
        "a:ok,b:ok," + "u" * 65 + ":ok",
        f"a:ok,b:ok,ghost:{MASK}",
        "a:ok,b:ok,broken",
    ],
    ids=[
        "21 pairs",
        "2000 pairs",
        "a 65-character user last",
        "a 257-character password last",
        "a user twice",
        "a long user",
        "a masked unknown user",
        "no colon",
    ],
)
def test_credentials_are_all_checked_before_any_hash(raw: str) -> None:
    counting = CountingHash()
    with pytest.raises(InvalidField) as raised:
        parse_credentials(raw, stored=(), hash_password=counting)
    assert raised.value.field == "smtp_credentials"
    assert counting.calls == 0


def test_twenty_pairs_of_the_longest_parts_are_accepted() -> None:
    counting = CountingHash()
    raw = "\n".join(f"{n:02d}" + "u" * 62 + ":" + "p" * 256 for n in range(20))
    parsed = parse_credentials(raw, stored=(), hash_password=counting)
    assert len(parsed) == 20
    assert counting.calls == 20


def test_masked_pairs_cost_no_hash() -> None:
    counting = CountingHash()
    stored = (Credential("relay", "h(old)"),)
    parsed = parse_credentials(f"relay:{MASK},new:pw", stored=stored, hash_password=counting)
    assert parsed == (Credential("relay", "h(old)"), Credential("new", "h(pw)"))
    assert counting.calls == 1


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("idn@xn--bcher-kva.example", "idn@xn--bcher-kva.example"),
        ("idn@bücher.example", "idn@xn--bcher-kva.example"),
        (" IDN@BÜCHER.Example ", "idn@xn--bcher-kva.example"),
        ("jose\u0301@example.com", "jos\u00e9@example.com"),
        ("JOSE\u0301@example.com", "jos\u00e9@example.com"),
        ("a@b@example.com", "a@b@example.com"),
        ("no-at-sign", "no-at-sign"),
        ("x@" + "b" * 70 + ".com", "x@" + "b" * 70 + ".com"),
    ],
)
def test_the_email_normal_form(raw: str, normal: str) -> None:
    assert email_normal_form(raw) == normal


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40), st.text(max_size=40))
def test_the_email_normal_form_is_idempotent_and_total(local: str, domain: str) -> None:
    once = email_normal_form(f"{local}@{domain}")
    assert email_normal_form(once) == once


@pytest.mark.parametrize("local", ["*", "postmaster", "abuse", "noc+x", "security+", "webmaster"])
def test_reserved_on_a_shared_domain(local: str) -> None:
    with pytest.raises(InvalidField) as raised:
        Address.parse(f"{local}@inbound.example").check_shareable()
    assert raised.value.field == "address"


@pytest.mark.parametrize("local", ["orders", "x+postmaster", "postmasters", "no.c"])
def test_not_reserved_on_a_shared_domain(local: str) -> None:
    address = Address.parse(f"{local}@inbound.example")
    assert address.check_shareable() is address


@pytest.mark.parametrize(
    ("number", "size", "past"),
    [(1, 20, False), (2**40, 100, False), (2**62, 100, True), (10**18, 1, False)],
)
def test_a_page_past_any_store(number: int, size: int, past: bool) -> None:
    assert Page.parse(number, size).past_any_data is past


def test_a_page_of_a_list() -> None:
    items = list(range(45))
    assert Page.parse(3, 20).of(items) == [40, 41, 42, 43, 44]
    assert Page.parse(4, 20).of(items) == []
    assert Page.parse(2**62, 100).of(items) == []
