"""Issue 10, the REST API side: every request that checks a secret is limited, odd input is
a 400 or 422 (never a 500), credentials are capped, public domains keep their role names,
one email normal form, quotas and paging."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from uuid import UUID

import pytest
import requests
from attrs import evolve
from dependency_injector import providers
from sqlalchemy import Engine

from hookmail.core.quotas import Quotas
from hookmail.core.webhooks import Address
from hookmail.entrypoints.container import Container, quotas_from
from hookmail.entrypoints.settings import Settings
from tests.conftest import SQL_STORES, clean_engine
from tests.dns_server import DnsServer
from tests.integration.e2e.conftest import PASSWORD, PUBLIC_DOMAIN, Api, make_api

pytestmark = pytest.mark.e2e

JSON = {"Content-Type": "application/json"}


# -- SPEC §3: 10 failures per account or client address in 15 minutes, on every check --------


def _wrong_code(api: Api, secret: str) -> str:
    right = api.totp(secret)
    return "000000" if right != "000000" else "111111"


def _attempt(api: Api, operation: str, token: str, secret: str, *, right: bool, **kw: Any) -> Any:
    """One request of `operation` with the right secret, or a wrong one."""
    code = api.totp(secret) if right else _wrong_code(api, secret)
    if operation == "disable 2FA":
        return api.call("DELETE", "/api/v1/accounts/me/2fa", token, json={"code": code}, **kw)
    if operation == "regenerate backup codes":
        path = "/api/v1/accounts/me/2fa/backup-codes"
        return api.call("POST", path, token, json={"code": code}, **kw)
    if operation == "delete account (password)":
        body = {"password": PASSWORD if right else "wrong password", "code": api.totp(secret)}
        return api.call("DELETE", "/api/v1/accounts/me", token, json=body, **kw)
    if operation == "delete account (code)":
        body = {"password": PASSWORD, "code": code}
        return api.call("DELETE", "/api/v1/accounts/me", token, json=body, **kw)
    if operation == "change password":
        body = {
            "current_password": PASSWORD if right else "wrong password",
            "new_password": "a brand new password",
        }
        return api.call("PUT", "/api/v1/accounts/me/password", token, json=body, **kw)
    raise AssertionError(operation)


OPERATIONS = [
    "disable 2FA",
    "regenerate backup codes",
    "delete account (password)",
    "delete account (code)",
    "change password",
]


@pytest.mark.parametrize("operation", OPERATIONS)
def test_ten_failures_for_one_account_then_429_even_with_the_right_secret(
    api: Api, operation: str
) -> None:
    token = api.new_user("alice@example.com")
    secret, _ = api.enable_totp(token)
    for n in range(10):  # from ten addresses, so only the per-account limit can trip
        failed = _attempt(api, operation, token, secret, right=False, remote_addr=f"192.0.2.{n}")
        assert failed.status_code == 401, failed.json
    limited = _attempt(api, operation, token, secret, right=True, remote_addr="198.51.100.1")
    assert (limited.status_code, limited.json["code"]) == (429, "rate_limited")
    assert 0 < int(limited.headers["Retry-After"]) <= 900
    # the account's sign-in is locked too: one count per account, whatever was guessed
    signed_in = api.call(
        "POST", "/api/v1/sessions", json={"email": "alice@example.com", "password": PASSWORD}
    )
    assert signed_in.status_code == 429
    api.clock.advance(minutes=15)
    token = api.sign_in_past_2fa("alice@example.com", secret)
    done = _attempt(api, operation, token, secret, right=True, remote_addr="198.51.100.1")
    assert done.status_code in {200, 204}, done.json


@pytest.mark.parametrize("operation", OPERATIONS)
def test_ten_failures_from_one_address_then_429_for_any_account_there(
    api: Api, operation: str
) -> None:
    mallory = api.new_user("mallory@example.com")
    mallory_secret, _ = api.enable_totp(mallory)
    alice = api.new_user("alice@example.com")
    alice_secret, _ = api.enable_totp(alice)
    for _ in range(10):
        failed = _attempt(api, operation, mallory, mallory_secret, right=False)
        assert failed.status_code == 401, failed.json
    blocked = _attempt(api, operation, alice, alice_secret, right=True)
    assert (blocked.status_code, blocked.json["code"]) == (429, "rate_limited")
    elsewhere = _attempt(api, operation, alice, alice_secret, right=True, remote_addr="203.0.113.9")
    assert elsewhere.status_code in {200, 204}, elsewhere.json


def test_enabling_2fa_with_wrong_codes_is_limited_too(api: Api) -> None:
    token = api.new_user("alice@example.com")
    setup = api.call("POST", "/api/v1/accounts/me/2fa/setup", token).json
    wrong = _wrong_code(api, setup["secret"])
    for _ in range(10):
        failed = api.call("POST", "/api/v1/accounts/me/2fa/enable", token, json={"code": wrong})
        assert failed.status_code == 401
    right = {"code": api.totp(setup["secret"])}
    limited = api.call("POST", "/api/v1/accounts/me/2fa/enable", token, json=right)
    assert (limited.status_code, limited.json["code"]) == (429, "rate_limited")


def test_sign_in_failures_count_against_the_secret_checks(api: Api) -> None:
    token = api.new_user("alice@example.com")
    for n in range(10):
        result = api.call(
            "POST",
            "/api/v1/sessions",
            json={"email": "alice@example.com", "password": "wrong"},
            remote_addr=f"192.0.2.{n}",
        )
        assert result.status_code == 401
    change = api.call(
        "PUT",
        "/api/v1/accounts/me/password",
        token,
        json={"current_password": PASSWORD, "new_password": "a brand new password"},
        remote_addr="198.51.100.1",
    )
    assert (change.status_code, change.json["code"]) == (429, "rate_limited")


# -- SPEC §3: any JSON body, however odd, is a 400 or a 422 ---------------------------------


def _operations(api: Api) -> list[tuple[str, str, bool, bool]]:
    """(method, path, takes a body, needs a token) of every documented operation."""
    document = api.call("GET", "/api/v1/openapi.json").json
    found = []
    for path, item in document["paths"].items():
        concrete = path.replace("{id}", "00000000-0000-4000-8000-000000000000").replace(
            "{logId}", "00000000-0000-4000-8000-000000000001"
        )
        for method, operation in item.items():
            found.append(
                (method.upper(), concrete, "requestBody" in operation, bool(operation["security"]))
            )
    return found


def test_a_thousand_nested_arrays_is_invalid_json_on_every_operation(api: Api) -> None:
    token = api.new_user()
    body = b"[" * 1000 + b"]" * 1000
    checked = 0
    for method, path, takes_body, secured in _operations(api):
        for with_token in {secured, False}:
            result = api.call(method, path, token if with_token else None, body=body, headers=JSON)
            if result.status_code >= 400:
                assert set(result.json) == {"code", "error"}
            if takes_body and with_token == secured:
                assert (result.status_code, result.json["code"]) == (400, "invalid_json"), path
                checked += 1
    assert checked >= 15


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a":' * 5000 + b"1" + b"}" * 5000,
        b'{"email": ' + b"[" * 40 + b"]" * 40 + b', "password": "x"}',
    ],
    ids=["100k arrays", "5k objects", "40 levels in a field"],
)
def test_deep_nesting_is_invalid_json(api: Api, body: bytes) -> None:
    result = api.call("POST", "/api/v1/accounts", body=body, headers=JSON)
    assert (result.status_code, result.json["code"]) == (400, "invalid_json")
    assert "nested" in result.json["error"]


def test_a_lone_surrogate_in_a_password_is_422(api: Api) -> None:
    body = b'{"email": "alice@example.com", "password": "abcdefgh\\ud800"}'
    result = api.call("POST", "/api/v1/accounts", body=body, headers=JSON)
    assert (result.status_code, result.json["code"]) == (422, "validation_error")
    assert "password" in result.json["error"]
    signed_in = api.call(
        "POST", "/api/v1/sessions", body=body.replace(b"abcdefgh", b"12345678"), headers=JSON
    )
    assert (signed_in.status_code, signed_in.json["code"]) == (422, "validation_error")


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/accounts", b'{"email": "a\\udfff@example.com", "password": "12345678"}'),
        ("/api/v1/accounts", b'{"email": "a\\u0000@example.com", "password": "12345678"}'),
        ("/api/v1/sessions", b'{"email": "a@example.com", "password": "1234\\u00005678"}'),
        ("/api/v1/accounts/password-reset", b'{"email": "\\ud800@example.com"}'),
        ("/api/v1/accounts", b'{"\\ud800": 1, "email": "a@example.com", "password": "12345678"}'),
    ],
)
def test_surrogates_and_nul_anywhere_are_422(api: Api, path: str, body: bytes) -> None:
    result = api.call("POST", path, body=body, headers=JSON)
    assert (result.status_code, result.json["code"]) == (422, "validation_error")


def test_surrogates_and_nul_in_authenticated_bodies_are_422(api: Api) -> None:
    token = api.new_user()
    for path, body in [
        ("/api/v1/smtp-policies", b'{"name": "a\\u0000b"}'),
        ("/api/v1/smtp-policies", b'{"name": "p", "smtp_credentials": "u:\\ud83dpassword"}'),
        ("/api/v1/domains", b'{"name": "\\ud800.example.com"}'),
        (
            "/api/v1/webhooks",
            b'{"address": "a@inbound.hookmail.test", "target_url": "https://x.example/",'
            b' "payload_template": "\\u0000"}',
        ),
    ]:
        result = api.call("POST", path, token, body=body, headers=JSON)
        assert (result.status_code, result.json["code"]) == (422, "validation_error"), path


def test_a_long_timezone_is_422_and_not_echoed_into_the_log(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    token = api.new_user()
    caplog.set_level(logging.DEBUG)
    zone = "Europe/" + "x" * 10_000
    result = api.call("PUT", "/api/v1/accounts/me/timezone", token, json={"timezone": zone})
    assert (result.status_code, result.json["code"]) == (422, "validation_error")
    assert "timezone" in result.json["error"]
    assert len(result.text) < 300
    assert all("x" * 100 not in record.getMessage() for record in caplog.records)
    exact = api.call("PUT", "/api/v1/accounts/me/timezone", token, json={"timezone": "x" * 65})
    assert exact.status_code == 422
    for odd in ("Europe", "../../etc/passwd", "/etc/localtime", "UTC\u0000", ""):
        result = api.call("PUT", "/api/v1/accounts/me/timezone", token, json={"timezone": odd})
        assert result.status_code == 422, odd


def test_a_page_past_any_store_is_an_empty_page(api: Api) -> None:
    token = api.new_user()
    webhook = api.call(
        "POST",
        "/api/v1/webhooks",
        token,
        json={"address": "me@inbound.hookmail.test", "target_url": "https://h.example.net/"},
    ).json
    path = f"/api/v1/webhooks/{webhook['id']}/logs"
    for page in ("9223372036854775807", "9223372036854775808", "1" + "0" * 40, "1" * 5000):
        result = api.call("GET", path, token, params={"page": page, "page_size": "100"})
        assert (result.status_code, result.json) == (200, []), page
    for bad in ("1e3", "0x10", "-1", "0", " 1", "1_0", "\u0661", "-" + "9" * 30):
        result = api.call("GET", path, token, params={"page": bad})
        assert (result.status_code, result.json["code"]) == (422, "validation_error"), bad
    huge = api.call("GET", path, token, params={"page_size": "9223372036854775807"})
    assert huge.status_code == 422


@pytest.mark.parametrize(
    "body",
    [
        b'{"email": "a@example.com", "password": ' + b"9" * 5000 + b"}",
        b'{"email": "a@example.com", "password": NaN}',
        b'{"email": "a@example.com", "password": -Infinity}',
        b'{"email": "a@example.com", "password": "12345678"',
        b"\xff\xfe\x00",
        b'"just a string"',
    ],
    ids=["5000 digits", "NaN", "-Infinity", "truncated", "bad bytes", "a string"],
)
def test_odd_json_is_400_or_422(api: Api, body: bytes) -> None:
    result = api.call("POST", "/api/v1/accounts", body=body, headers=JSON)
    assert result.status_code in {400, 422}
    assert set(result.json) == {"code", "error"}
    assert len(result.json["error"]) < 400


@pytest.mark.parametrize(
    "fields",
    [
        {"rate_limit": 10**100},
        {"rate_limit": 1e308},
        {"rate_limit": -(2**63)},
        {"rate_limit": True},
        {"rate_limit": "5"},
        {"active": 1},
        {"custom_headers": ["X-A", "b"]},
        {"custom_headers": {"X-A": 1}},
        {"custom_headers": {"X-A": {"nested": "x"}}},
        {"smtp_security_policy_id": 12},
        {"smtp_security_policy_id": "not-a-uuid"},
        {"target_url": None},
        {"address": ["me@inbound.hookmail.test"]},
    ],
)
def test_wrong_types_and_huge_numbers_in_a_webhook_are_422(
    api: Api, fields: dict[str, object]
) -> None:
    token = api.new_user()
    body = {"address": "me@inbound.hookmail.test", "target_url": "https://h.example.net/"}
    result = api.call("POST", "/api/v1/webhooks", token, json={**body, **fields})
    assert (result.status_code, result.json["code"]) == (422, "validation_error")


# -- SPEC §3: at most 20 credential pairs, user <= 64, password <= 256, checked before hashing --


@pytest.mark.parametrize(
    "credentials",
    [
        ",".join(f"user{n}:password-{n}" for n in range(2000)),
        ",".join(f"user{n}:password-{n}" for n in range(21)),
        "relay:" + "p" * 257,
        "u" * 65 + ":password",
        "relay:" + "p" * 900_000,
    ],
    ids=["2000 pairs", "21 pairs", "257-character password", "65-character user", "900 KB"],
)
def test_oversized_credentials_are_422(api: Api, credentials: str) -> None:
    token = api.new_user()
    body = {"name": "p", "smtp_credentials": credentials}
    created = api.call("POST", "/api/v1/smtp-policies", token, json=body)
    assert (created.status_code, created.json["code"]) == (422, "validation_error")
    assert "smtp_credentials" in created.json["error"]
    policy = api.call("POST", "/api/v1/smtp-policies", token, json={"name": "p"}).json
    path = f"/api/v1/smtp-policies/{policy['id']}"
    updated = api.call("PUT", path, token, json={"smtp_credentials": credentials})
    assert (updated.status_code, updated.json["code"]) == (422, "validation_error")


def test_twenty_pairs_at_the_length_limits_are_accepted(api: Api) -> None:
    token = api.new_user()
    credentials = "\n".join(f"{n:02d}" + "u" * 62 + ":" + "p" * 256 for n in range(20))
    body = {"name": "p", "smtp_credentials": credentials}
    created = api.call("POST", "/api/v1/smtp-policies", token, json=body)
    assert created.status_code == 201, created.json
    assert created.json["smtp_credentials"].count(":********") == 20


# -- SPEC §3: on a public domain no catch-all and no RFC 2142 role name ----------------------

ROLES = ["postmaster", "abuse", "hostmaster", "webmaster", "security", "noc"]


def _webhook(api: Api, token: str, address: str) -> Any:
    body = {"address": address, "target_url": "https://h.example.net/"}
    return api.call("POST", "/api/v1/webhooks", token, json=body)


@pytest.mark.parametrize(
    "local", ["*", *ROLES, "Postmaster", "ABUSE", "postmaster+x", "noc+", "security+a+b"]
)
def test_a_public_domain_refuses_catch_alls_and_role_names(api: Api, local: str) -> None:
    token = api.new_user()
    result = _webhook(api, token, f"{local}@{PUBLIC_DOMAIN}")
    assert (result.status_code, result.json["code"]) == (422, "validation_error")
    assert "address" in result.json["error"]
    mine = _webhook(api, token, f"mine@{PUBLIC_DOMAIN}").json
    moved = api.call(
        "PUT", f"/api/v1/webhooks/{mine['id']}", token, json={"address": f"{local}@{PUBLIC_DOMAIN}"}
    )
    assert (moved.status_code, moved.json["code"]) == (422, "validation_error")


@pytest.mark.parametrize("local", ["orders", "post-master", "abuses", "nocturne", "x+postmaster"])
def test_other_names_on_a_public_domain_are_fine(api: Api, local: str) -> None:
    token = api.new_user()
    assert _webhook(api, token, f"{local}@{PUBLIC_DOMAIN}").status_code == 201


def test_a_verified_own_domain_allows_catch_alls_and_role_names(api: Api, dns: DnsServer) -> None:
    token = api.new_user()
    api.verified_domain(token, "own.example", dns)
    for local in ["*", *ROLES, "postmaster+x"]:
        result = _webhook(api, token, f"{local}@own.example")
        assert result.status_code == 201, (local, result.json)


def test_a_shared_role_address_made_before_the_rule_can_only_be_moved_or_deleted(
    api: Api,
) -> None:
    token = api.new_user()
    hook = _webhook(api, token, f"mine@{PUBLIC_DOMAIN}").json
    uow = api.uow()
    with uow:  # as if made before the rule: straight into the store
        stored = uow.webhooks.get(UUID(hook["id"]))
        assert stored is not None
        uow.webhooks.save(evolve(stored, address=Address.parse(f"postmaster@{PUBLIC_DOMAIN}")))
        uow.commit()
    path = f"/api/v1/webhooks/{hook['id']}"
    kept = api.call("PUT", path, token, json={"target_url": "https://other.example.net/"})
    assert (kept.status_code, kept.json["code"]) == (422, "validation_error")
    moved = api.call("PUT", path, token, json={"address": f"team@{PUBLIC_DOMAIN}"})
    assert moved.status_code == 200
    assert api.call("DELETE", path, token).status_code == 204


# -- SPEC §3: one email normal form at sign-up, sign-in and reset ----------------------------

NFD_JOSE = "jose\u0301@example.com"
NFC_JOSE = "jos\u00e9@example.com"


@pytest.mark.parametrize(
    ("signed_up", "also"),
    [
        ("idn@xn--bcher-kva.example", ["idn@bücher.example", "IDN@BÜCHER.example"]),
        ("idn@bücher.example", ["idn@xn--bcher-kva.example", " Idn@Bücher.Example "]),
        (NFD_JOSE, [NFC_JOSE, NFD_JOSE.upper()]),
        (NFC_JOSE, [NFD_JOSE]),
        ("Alice@Example.COM", ["alice@example.com"]),
    ],
    ids=["punycode", "unicode", "nfd", "nfc", "case"],
)
def test_whatever_string_signed_up_signs_in_and_resets(
    api: Api, signed_up: str, also: list[str]
) -> None:
    account = api.sign_up(signed_up)
    for email in [signed_up, *also]:
        assert api.sign_in(email)["access_token"], email
        again = api.call("POST", "/api/v1/accounts", json={"email": email, "password": PASSWORD})
        assert (again.status_code, again.json["code"]) == (409, "email_taken"), email
        before = len(api.mailer.sent)
        reset = api.call("POST", "/api/v1/accounts/password-reset", json={"email": email})
        assert reset.status_code == 202
        assert len(api.mailer.sent) == before + 1, email
        assert api.mailer.sent[-1].to == account["email"]


def test_the_stored_form_is_nfc_with_the_domain_idna_encoded(api: Api) -> None:
    assert api.sign_up("Idn@Bücher.example")["email"] == "idn@xn--bcher-kva.example"
    assert api.sign_up(NFD_JOSE)["email"] == NFC_JOSE


def test_wrong_attempts_under_any_form_count_for_one_account(api: Api) -> None:
    api.sign_up("idn@bücher.example")
    forms = ["idn@bücher.example", "idn@xn--bcher-kva.example", "IDN@BÜCHER.EXAMPLE"]
    for n in range(10):
        wrong = api.call(
            "POST",
            "/api/v1/sessions",
            json={"email": forms[n % 3], "password": "wrong password"},
            remote_addr=f"192.0.2.{n}",
        )
        assert wrong.status_code == 401
    limited = api.call(
        "POST",
        "/api/v1/sessions",
        json={"email": "idn@bücher.example", "password": PASSWORD},
        remote_addr="198.51.100.1",
    )
    assert limited.status_code == 429


def test_a_sign_in_with_any_long_string_is_a_plain_401(api: Api) -> None:
    for email in ["a" * 100_000, "a" * 400 + "@example.com", "@" * 500, "x@" + "b" * 70 + ".c"]:
        result = api.call("POST", "/api/v1/sessions", json={"email": email, "password": "x"})
        assert (result.status_code, result.json["code"]) == (401, "unauthorized")


# -- SPEC §3: quotas (409 quota_exceeded, held in the store) and optional paging ---------------


def _small_quotas(request: pytest.FixtureRequest, engine: Engine, dns: DnsServer) -> Api:
    settings = Settings(
        smtp_hostname="mx.test",
        public_domains=(PUBLIC_DOMAIN,),
        dns_nameservers=dns.nameservers,
        max_webhooks=3,
        max_domains=2,
        max_policies=2,
    )
    container = Container(settings=providers.Object(settings))
    container.engine.override(providers.Object(engine))
    return make_api(container)


@pytest.fixture(params=SQL_STORES)
def small(request: pytest.FixtureRequest, dns: DnsServer) -> tuple[Api, Api]:
    """Two apps (as two API processes) over one store with quotas of 3 webhooks, 2 domains
    and 2 policies."""
    dns.zone.txt.clear()
    engine = clean_engine(request, request.param)
    first = _small_quotas(request, engine, dns)
    second = _small_quotas(request, engine, dns)
    second.clock = first.clock
    return first, second


def _create(api: Api, token: str, what: str, n: int) -> Any:
    if what == "webhooks":
        body: dict[str, object] = {
            "address": f"hook{n}@{PUBLIC_DOMAIN}",
            "target_url": "https://h.example.net/",
        }
    elif what == "domains":
        body = {"name": f"d{n}.example.com"}
    else:
        body = {"name": f"policy {n}", "smtp_credentials": f"user{n}:password{n}"}
    return api.call("POST", f"/api/v1/{what}", token, json=body)


QUOTAS = {"webhooks": 3, "domains": 2, "smtp-policies": 2}


@pytest.mark.parametrize("what", list(QUOTAS))
def test_one_past_the_quota_is_409_and_a_delete_frees_a_slot(
    small: tuple[Api, Api], what: str
) -> None:
    api, other_process = small
    token = api.new_user("alice@example.com")
    made = [_create(api, token, what, n) for n in range(QUOTAS[what])]
    assert [r.status_code for r in made] == [201] * QUOTAS[what]
    for app in (api, other_process):
        over = _create(app, token, what, 99)
        assert (over.status_code, over.json["code"]) == (409, "quota_exceeded")
        assert str(QUOTAS[what]) in over.json["error"]
    bob = api.new_user("bob@example.com")
    assert _create(api, bob, what, 50).status_code == 201  # per account
    assert api.call("DELETE", f"/api/v1/{what}/{made[0].json['id']}", token).status_code == 204
    assert _create(other_process, token, what, 99).status_code == 201


@pytest.mark.parametrize("what", list(QUOTAS))
def test_concurrent_creates_cannot_both_take_the_last_slot(
    small: tuple[Api, Api], what: str
) -> None:
    api, other_process = small
    token = api.new_user("alice@example.com")
    for n in range(QUOTAS[what] - 1):
        assert _create(api, token, what, n).status_code == 201
    racers = 6
    start = threading.Barrier(racers, timeout=30)

    def race(n: int) -> int:
        start.wait()
        return int(_create((api, other_process)[n % 2], token, what, 100 + n).status_code)

    with ThreadPoolExecutor(racers) as pool:
        statuses = sorted(pool.map(race, range(racers)))
    assert statuses == [201] + [409] * (racers - 1)
    listed = api.call("GET", f"/api/v1/{what}", token).json
    own = [item for item in listed if item.get("is_public") is not True]
    assert len(own) == QUOTAS[what]


def test_the_quotas_default_to_the_spec() -> None:
    assert Quotas() == Quotas(webhooks=1000, domains=100, policies=100)
    assert quotas_from(Settings(smtp_hostname="mx.test")) == Quotas()
    env = {"HOOKMAIL_MAX_WEBHOOKS": "7", "HOOKMAIL_MAX_DOMAINS": "8", "HOOKMAIL_MAX_POLICIES": "9"}
    assert quotas_from(Settings.from_env(env)) == Quotas(webhooks=7, domains=8, policies=9)


@pytest.mark.parametrize("what", ["webhooks", "domains", "smtp-policies"])
def test_lists_page_when_asked_and_answer_whole_otherwise(api: Api, what: str) -> None:
    token = api.new_user()
    for n in range(5):
        assert _create(api, token, what, n).status_code == 201
        api.clock.advance(seconds=1)  # oldest first: distinct creation times
    path = f"/api/v1/{what}"
    whole = api.call("GET", path, token).json
    assert len(whole) == 5 + (1 if what == "domains" else 0)  # the public domain is listed too
    ids = [item["id"] for item in whole]
    pages = [
        api.call("GET", path, token, params={"page": str(n), "page_size": "2"}).json
        for n in (1, 2, 3, 4)
    ]
    assert [item["id"] for page in pages for item in page] == ids
    assert [len(page) for page in pages] == [2, 2, 2 if what == "domains" else 1, 0]
    first_page = api.call("GET", path, token, params={"page": "1"}).json
    assert [item["id"] for item in first_page] == ids  # page_size defaults to 20
    sized = api.call("GET", path, token, params={"page_size": "3"}).json
    assert [item["id"] for item in sized] == ids[:3]  # page defaults to 1
    far = api.call("GET", path, token, params={"page": "9223372036854775807"})
    assert (far.status_code, far.json) == (200, [])
    for bad in ({"page": "0"}, {"page_size": "101"}, {"page_size": "0"}, {"page": "x"}):
        refused = api.call("GET", path, token, params=bad)
        assert (refused.status_code, refused.json["code"]) == (422, "validation_error"), bad


# -- under gunicorn, over a socket: chunked bodies, and deep nesting on a real stack ----------


@pytest.fixture(scope="module")
def gunicorn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`hookmail api` (gunicorn, one worker) over a migrated SQLite file."""
    folder = tmp_path_factory.mktemp("gunicorn")
    port = _free_port()
    env = {
        **os.environ,
        "HOOKMAIL_DATABASE_URL": f"sqlite:///{folder / 'hookmail.db'}",
        "HOOKMAIL_API_PORT": str(port),
        "HOOKMAIL_SECRET_KEY": "abuse-test-key-" * 4,
    }
    hookmail = [sys.executable, "-m", "hookmail.entrypoints.cli"]
    subprocess.run([*hookmail, "migrate"], env=env, cwd=folder, check=True, capture_output=True)
    process = subprocess.Popen(
        [*hookmail, "api", "--workers", "1"],
        env=env,
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, "gunicorn exited early"
            assert time.monotonic() < deadline, "gunicorn did not answer within 30 s"
            try:
                if requests.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except (requests.ConnectionError, requests.Timeout):  # workers still booting
                time.sleep(0.1)  # polling a starting server, not pacing the test
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _chunks(data: bytes, size: int = 7) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


@pytest.mark.integration
def test_a_chunked_body_is_read_like_any_other(gunicorn: str) -> None:
    account = json.dumps({"email": "chunked@example.com", "password": PASSWORD}).encode()
    created = requests.post(
        f"{gunicorn}/api/v1/accounts", data=_chunks(account), headers=JSON, timeout=10
    )
    assert created.request.headers.get("Transfer-Encoding") == "chunked"
    assert created.status_code == 201, created.text
    signed_in = requests.post(
        f"{gunicorn}/api/v1/sessions", data=_chunks(account), headers=JSON, timeout=10
    )
    assert signed_in.status_code == 200, signed_in.text
    empty = requests.post(
        f"{gunicorn}/api/v1/sessions", data=_chunks(b""), headers=JSON, timeout=10
    )
    assert (empty.status_code, empty.json()["code"]) == (400, "invalid_json")
    large = requests.post(
        f"{gunicorn}/api/v1/sessions",
        data=_chunks(b'"' + b"x" * (1024 * 1024 + 10) + b'"', 65536),
        headers=JSON,
        timeout=30,
    )
    assert (large.status_code, large.json()["code"]) == (413, "payload_too_large")


@pytest.mark.integration
def test_deep_nesting_answers_400_under_gunicorn(gunicorn: str) -> None:
    for body in (b"[" * 1000 + b"]" * 1000, b"[" * 900 + b"]" * 900, b"{" * 50_000):
        result = requests.post(f"{gunicorn}/api/v1/accounts", data=body, headers=JSON, timeout=10)
        assert (result.status_code, result.json()["code"]) == (400, "invalid_json")


@pytest.mark.integration
def test_thousands_of_credentials_cost_no_hashing_and_the_api_stays_up(gunicorn: str) -> None:
    """Before the cap, 2000 pairs were 2000 argon2 hashes: the worker hit gunicorn's
    timeout (500) and /healthz waited a minute. Now each is refused before any hash."""
    account = {"email": "creds@example.com", "password": PASSWORD}
    assert requests.post(f"{gunicorn}/api/v1/accounts", json=account, timeout=30).ok
    token = requests.post(f"{gunicorn}/api/v1/sessions", json=account, timeout=30).json()
    auth = {"Authorization": f"Bearer {token['access_token']}"}
    body = {"name": "p", "smtp_credentials": ",".join(f"u{n}:pw-{n}" for n in range(2000))}

    def attack() -> int:
        return requests.post(
            f"{gunicorn}/api/v1/smtp-policies", json=body, headers=auth, timeout=30
        ).status_code

    def health() -> int:
        return requests.get(f"{gunicorn}/healthz", timeout=30).status_code

    with ThreadPoolExecutor(3) as pool:
        attacks = [pool.submit(attack), pool.submit(attack)]
        alive = pool.submit(health)
        assert [a.result() for a in attacks] == [422, 422]
        assert alive.result() == 200
