"""Value rules: domain names, addresses, policy fields, webhook fields."""

from __future__ import annotations

import pytest

from hookmail.core.domains import DomainName
from hookmail.core.errors import InvalidField
from hookmail.core.smtp_policies import (
    MASK,
    Credential,
    format_credentials,
    format_networks,
    parse_credentials,
    parse_domains,
    parse_networks,
)
from hookmail.core.webhooks import (
    Address,
    check_headers,
    check_secret,
    check_target_url,
    check_template,
    new_secret,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Example.COM", "example.com"),
        ("  mail.example.org ", "mail.example.org"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("a-b.c-d.example", "a-b.c-d.example"),
    ],
)
def test_domain_names_are_normalised(raw: str, expected: str) -> None:
    assert DomainName.parse(raw).value == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "localhost",
        "example.com.",
        "192.0.2.1",
        "::1",
        "[::1]",
        "-bad.example",
        "bad-.example",
        "a..example",
        "sp ace.example",
        "x" * 64 + ".example",
        "under_score.com",
        "example.123",
    ],
)
def test_bad_domain_names_are_refused(raw: str) -> None:
    with pytest.raises(InvalidField) as raised:
        DomainName.parse(raw)
    assert raised.value.field == "name"


def test_subdomains_are_within_their_parent() -> None:
    parent = DomainName.parse("example.com")
    assert DomainName.parse("mail.example.com").within(parent)
    assert DomainName.parse("example.com").within(parent)
    assert not DomainName.parse("badexample.com").within(parent)


@pytest.mark.parametrize(
    "raw",
    [
        "nolocal",
        "@example.com",
        "a b@example.com",
        ".a@example.com",
        "a..b@example.com",
        "a@localhost",
        "a@192.0.2.1",
    ],
)
def test_bad_addresses_are_refused(raw: str) -> None:
    with pytest.raises(InvalidField) as raised:
        Address.parse(raw)
    assert raised.value.field == "address"


def test_addresses_are_lower_cased_and_catch_alls_recognised() -> None:
    assert str(Address.parse("Sales@Example.com")) == "sales@example.com"
    assert Address.parse("*@example.com").is_catch_all


def _hash(user: str, password: str) -> str:
    return f"h({password})"


def test_credentials_are_hashed_and_masked_pairs_keep_their_password() -> None:
    stored = parse_credentials("alice:pw1, bob:pw2", stored=(), hash_password=_hash)
    assert stored == (Credential("alice", "h(pw1)"), Credential("bob", "h(pw2)"))
    assert format_credentials(stored) == f"alice:{MASK},bob:{MASK}"
    again = parse_credentials(f"alice:{MASK}\nbob:new", stored=stored, hash_password=_hash)
    assert again == (Credential("alice", "h(pw1)"), Credential("bob", "h(new)"))


@pytest.mark.parametrize(
    "raw",
    ["alice", "alice:", ":pw", "alice:a,alice:b", f"carol:{MASK}", "al ice:pw", "al\x00ice:pw"],
)
def test_bad_credentials_are_refused(raw: str) -> None:
    with pytest.raises(InvalidField) as raised:
        parse_credentials(raw, stored=(), hash_password=_hash)
    assert raised.value.field == "smtp_credentials"


def test_source_networks_take_v4_v6_and_single_addresses() -> None:
    networks = parse_networks("192.0.2.0/24, 2001:db8::/32,198.51.100.7")
    assert format_networks(networks) == "192.0.2.0/24,2001:db8::/32,198.51.100.7"
    with pytest.raises(InvalidField, match="allowed_source_ips"):
        parse_networks("192.0.2.0/24, not-an-ip")


def test_domain_lists_name_their_field() -> None:
    assert [d.value for d in parse_domains("Example.com, b.org", "allowed_spf_domains")] == [
        "example.com",
        "b.org",
    ]
    with pytest.raises(InvalidField) as raised:
        parse_domains("example.com, nope", "allowed_dkim_domains")
    assert raised.value.field == "allowed_dkim_domains"


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/",
        "/relative",
        "http://",
        "example.com",
        "http://example.com/" + "x" * 2048,
        "http://exa mple.com/",
        "http://example.com:99999/",
    ],
)
def test_bad_target_urls_are_refused(url: str) -> None:
    with pytest.raises(InvalidField, match="target_url"):
        check_target_url(url)


def test_generated_secrets_follow_standard_webhooks() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_")
    assert check_secret(secret) == secret
    assert new_secret() != secret
    with pytest.raises(InvalidField, match="secret"):
        check_secret("too-short")


@pytest.mark.parametrize(
    "headers",
    [
        {"Host": "x"},
        {"content-length": "1"},
        {"Transfer-Encoding": "chunked"},
        {"Connection": "close"},
        {"Webhook-Signature": "forged"},
        {"Bad Name": "x"},
        {"X-Ok": "line\r\nInjected: yes"},
        {f"X-{n}": "v" for n in range(21)},
    ],
)
def test_forbidden_or_malformed_headers_are_refused(headers: dict[str, str]) -> None:
    with pytest.raises(InvalidField, match="custom_headers"):
        check_headers(headers)


def test_templates_are_parsed_at_save() -> None:
    assert check_template('{"s": "{{subject}}"}') == '{"s": "{{subject}}"}'
    for broken in ("{{#open}}never closed", "{{/closed}}", "{{", "ok {{a}} then {{unclosed"):
        with pytest.raises(InvalidField, match="payload_template"):
            check_template(broken)
    with pytest.raises(InvalidField, match="64 KiB"):
        check_template("x" * (64 * 1024 + 1))
