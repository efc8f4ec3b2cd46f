"""Settings checked at save so they can be sent: header values, international target URLs."""

from __future__ import annotations

import pytest

from hookmail.core.errors import InvalidField
from hookmail.core.webhooks import ascii_url, check_headers, check_target_url


@pytest.mark.parametrize(
    ("url", "sent"),
    [
        ("https://hooks.example.net/in?a=1", "https://hooks.example.net/in?a=1"),
        (
            "https://bücher.example/pfad/ä?q=ü#f",
            "https://xn--bcher-kva.example/pfad/%C3%A4?q=%C3%BC#f",
        ),
        (
            "http://u:pä@BÜCHER.example:8080/a%20b/é",
            "http://u:p%C3%A4@xn--bcher-kva.example:8080/a%20b/%C3%A9",
        ),
        ("https://[::1]:8443/é", "https://[::1]:8443/%C3%A9"),
        ("https://例え.jp/", "https://xn--r8jz45g.jp/"),
    ],
)
def test_urls_are_sent_idna_and_percent_encoded(url: str, sent: str) -> None:
    assert check_target_url(url) == url
    assert ascii_url(url) == sent


@pytest.mark.parametrize(
    "url", ["https://a\u0301\u200d-.example/", "https://exa mple.com/", "https://x.example/\x85"]
)
def test_urls_that_cannot_be_sent_are_refused(url: str) -> None:
    with pytest.raises(InvalidField, match=r"^target_url: "):
        check_target_url(url)


@pytest.mark.parametrize("value", ["5 €", "🙂", "a\rb", "a\nb", "\x00", "\x7f", "\x85", "ā"])
def test_header_values_must_be_printable_latin1_on_one_line(value: str) -> None:
    with pytest.raises(InvalidField, match=r"^custom_headers: the value of 'X-A'"):
        check_headers({"X-A": value})


def test_latin1_and_tabs_are_fine_in_header_values() -> None:
    assert check_headers({"X-A": "café\tcrème ÿ ~"}) == {"X-A": "café\tcrème ÿ ~"}
