"""The routing decision: exact address, then `local+tag` → `local`, then the catch-all."""

from __future__ import annotations

import pytest

from hookmail.core.webhooks import Address, candidates, route

HOOKS = {
    "sales@example.com": "sales",
    "sales+vip@example.com": "sales-vip",
    "*@example.com": "catch-all",
    "billing@other.org": "billing",
}


@pytest.mark.parametrize(
    ("recipient", "expected"),
    [
        ("sales@example.com", "sales"),  # exact
        ("SALES@Example.COM", "sales"),  # case-insensitive
        ("sales+vip@example.com", "sales-vip"),  # an exact tagged address wins over its base
        ("sales+q3@example.com", "sales"),  # tag stripped when nothing matches exactly
        ("sales+a+b@example.com", "sales"),  # only the first + splits
        ("nobody@example.com", "catch-all"),
        ("nobody+tag@example.com", "catch-all"),
        ("+tag@example.com", "catch-all"),  # an empty base is no address
        ("billing@other.org", "billing"),
        ("billing+x@other.org", "billing"),
        ("sales@other.org", None),  # no catch-all on other.org
        ("sales@sub.example.com", None),  # a catch-all does not cover subdomains
    ],
)
def test_route_picks_the_best_match(recipient: str, expected: str | None) -> None:
    assert route(Address.parse(recipient), HOOKS) == expected


def test_candidates_are_ordered_best_first() -> None:
    assert candidates(Address.parse("a+b@example.com")) == [
        "a+b@example.com",
        "a@example.com",
        "*@example.com",
    ]
    assert candidates(Address.parse("a@example.com")) == ["a@example.com", "*@example.com"]


def test_an_idn_domain_routes_by_its_ascii_form() -> None:
    hooks = {"info@xn--bcher-kva.example": "books"}
    assert route(Address.parse("info@bücher.example"), hooks) == "books"
