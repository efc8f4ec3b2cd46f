"""Property-based fuzzing (hypothesis) of every operation of the served OpenAPI document with
random JSON: deep nesting, lone surrogates and NUL, huge and non-finite numbers, wrong types
in the documented fields, bytes that are no JSON, odd query parameters. Whatever comes in,
the answer is never a 5xx and every error is `{"code", "error"}` (SPEC §3). Beside the
schemathesis run (test_fuzz.py), which sends what the document describes; this sends what
it does not. On SQLite and PostgreSQL (NUL and overflow behave differently there); bounded
by `max_examples` per operation, so the module runs in seconds."""

from __future__ import annotations

import json
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dependency_injector import providers
from falcon import testing
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hookmail.adapters.access_tokens import JwtAccessTokens
from hookmail.adapters.memory import InlineBackground, RecordingMailer
from hookmail.adapters.passwords import Argon2PasswordHasher
from hookmail.adapters.sql.engine import make_engine, migrate
from hookmail.entrypoints.container import Container
from hookmail.entrypoints.http.app import create_app
from hookmail.entrypoints.settings import Settings
from tests.conftest import SQL_STORES, clean_engine
from tests.dns_server import DnsServer

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

EXAMPLES = 30  # per operation and store
PUBLIC = "inbound.hookmail.test"
PASSWORD = "correct horse battery"
ran: dict[str, int] = {}  # examples per store, said at the end


class Target:
    """The app over one store, signed in, with a domain, a policy and a webhook to aim at."""

    def __init__(self, request: pytest.FixtureRequest, store: str, dns: DnsServer) -> None:
        engine = clean_engine(request, store)
        config = Settings(
            smtp_hostname="mx.test",
            public_domains=(PUBLIC,),
            dns_nameservers=dns.nameservers,  # a real server with an empty zone: no TXT
            login_max_failures=1_000_000,
            signups_per_hour=1_000_000,
            reset_requests_per_hour=1_000_000,
        )
        container = Container(settings=providers.Object(config))
        container.engine.override(providers.Object(engine))
        container.mailer.override(providers.Object(RecordingMailer()))
        container.background.override(providers.Object(InlineBackground()))
        container.hasher.override(
            providers.Object(Argon2PasswordHasher(time_cost=1, memory_cost=1024))
        )
        container.access_tokens.override(
            providers.Object(JwtAccessTokens(["fuzz-json-key-" * 4], lifetime_seconds=86_400))
        )
        self.client = testing.TestClient(create_app(container))
        self.document = self.client.simulate_get("/api/v1/openapi.json").json
        self.store = store
        self.token = self._sign_in()
        self.ids = {
            "domains": self._create("/api/v1/domains", {"name": "fuzz.example"}),
            "smtp-policies": self._create("/api/v1/smtp-policies", {"name": "p"}),
            "webhooks": self._create(
                "/api/v1/webhooks",
                {"address": f"me@{PUBLIC}", "target_url": "https://h.example.net/"},
            ),
        }

    def _sign_in(self) -> str:
        account = {"email": "fuzz@example.com", "password": PASSWORD}
        self.client.simulate_post("/api/v1/accounts", json=account)
        return str(self.client.simulate_post("/api/v1/sessions", json=account).json["access_token"])

    def _create(self, path: str, body: dict[str, object]) -> str:
        result = self.client.simulate_post(path, json=body, headers=self.auth)
        assert result.status_code == 201, result.json
        return str(result.json["id"])

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def concrete(self, method: str, path: str) -> str:
        """The path with ids of real objects (a random one for DELETE, which would end them)."""
        if "{id}" in path:
            kind = path.split("/")[3]
            real = self.ids.get(kind)
            path = path.replace(
                "{id}", str(uuid.uuid4()) if method == "DELETE" or not real else real
            )
        return path.replace("{logId}", str(uuid.uuid4()))

    def fields(self, operation: dict[str, Any]) -> list[str]:
        """The documented fields of the operation's request body."""
        body = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
        schema = body.get("schema", {})
        while "$ref" in schema:
            schema = self.document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
        return sorted(schema.get("properties", {}))


@pytest.fixture(scope="module", params=SQL_STORES)
def target(request: pytest.FixtureRequest, dns: DnsServer) -> Iterator[Target]:
    dns.zone.txt.clear()
    dns.zone.failing.clear()
    yield Target(request, request.param, dns)
    print(f"\nfuzz_json on {request.param}: {ran.get(request.param, 0)} examples")


# -- the strategies ----------------------------------------------------------------------

# any code point, lone surrogates included (hypothesis leaves them out unless asked)
ANY_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=40)
NUMBERS = st.one_of(
    st.integers(),
    st.integers(min_value=2**63 - 2, max_value=2**64 + 2),
    st.integers(min_value=-(2**64), max_value=-(2**63) + 2),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -1, 10**100, 10**4299, 1e308, -0.0]),
)
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, ANY_TEXT, st.sampled_from(["", "\x00"]))
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(ANY_TEXT, inner, max_size=4)
    ),
    max_leaves=12,
)


def _encode(value: object) -> bytes:
    """JSON text; NaN/Infinity as Python writes them (not JSON: the app must say 400)."""
    return json.dumps(value, ensure_ascii=True, allow_nan=True).encode()


def _nested(depth: int, opener: str) -> bytes:
    closer = {"[": "]", '{"a":': "}"}[opener]
    inner = "1" if opener != "[" else ""
    return (opener * depth + inner + closer * depth).encode()


# a plausible value per documented field, so a body gets past "required" to the deep checks
GOOD: dict[str, object] = {
    "email": "fuzz2@example.com",
    "password": PASSWORD,
    "current_password": PASSWORD,
    "new_password": "another good password",
    "name": "fuzz2.example",
    "address": f"x@{PUBLIC}",
    "target_url": "https://h.example.net/in",
    "timezone": "Europe/Paris",
    "code": "123456",
    "smtp_credentials": "user:secret-password",
    "allowed_source_ips": "10.0.0.0/8, 2001:db8::/32",
    "allowed_spf_domains": "example.org",
    "allowed_dkim_domains": "example.org",
    "payload_template": "{{subject}}",
    "secret": "s" * 32,
    "custom_headers": {"X-Team": "mail"},
    "rate_limit": 5,
    "active": True,
    "require_smtp_auth": False,
}
NASTY = st.sampled_from(  # what no store holds, what breaks parsers, what confuses lists
    ["\x00", "\ud800", "\udfff", "\x00", "\ud83d", "\u0301", "\u202e", "\r\n", ":", ",", "@"]
)


def _mutated(good: str, nasty: str, at: int, times: int) -> str:
    at %= len(good) + 1
    return (good[:at] + nasty + good[at:]) * times


def _field(name: str) -> st.SearchStrategy[object]:
    good = GOOD.get(name, "x")
    if not isinstance(good, str):
        return st.one_of(st.just(good), st.just(good), JSON_VALUES)
    mutated = st.builds(
        _mutated, st.just(good), NASTY, st.integers(0, 100), st.sampled_from([1, 1, 2, 3000])
    )
    return st.one_of(st.just(good), mutated, mutated, JSON_VALUES)


def bodies(fields: list[str]) -> st.SearchStrategy[bytes]:
    every = st.fixed_dictionaries({name: _field(name) for name in fields}).map(_encode)
    some = st.fixed_dictionaries({}, optional={name: _field(name) for name in fields})
    return st.one_of(
        every,  # every documented field: plausible, with a nasty twist, or anything
        every,
        every,
        some.map(_encode),
        JSON_VALUES.map(_encode),  # anything at all
        st.builds(_nested, st.integers(1, 3000), st.sampled_from(["[", '{"a":'])),
        st.binary(max_size=64),  # no JSON
        st.sampled_from([b"", b" ", b"{", b'{"a": NaN}', b"[1e999]", b"\xef\xbb\xbf{}"]),
    )


QUERY_VALUES = st.one_of(
    st.integers().map(str),
    st.sampled_from(["9223372036854775807", "1" * 4400, "-0", "1e3", " 1", "\u0661"]),
    st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=20),
)


def _operations() -> list[tuple[str, str]]:
    """(method, path) of every documented operation, read from a throwaway app's document
    (over a throwaway migrated SQLite file), so a new route is fuzzed without a change here."""
    folder = Path(tempfile.mkdtemp(prefix="hookmail-fuzz-json-"))
    engine = make_engine(f"sqlite:///{folder / 'ops.db'}")
    migrate(engine)
    container = Container(settings=providers.Object(Settings(smtp_hostname="mx.test")))
    container.engine.override(providers.Object(engine))
    document = testing.TestClient(create_app(container)).simulate_get("/api/v1/openapi.json").json
    engine.dispose()
    shutil.rmtree(folder, ignore_errors=True)
    return [(m.upper(), p) for p, item in document["paths"].items() for m in item]


OPERATIONS = _operations()


# -- the property --------------------------------------------------------------------------


def _check(result: testing.Result, what: str) -> None:
    assert result.status_code < 500, (what, result.status_code, result.text[:300])
    if result.status_code >= 400:
        body = result.json
        assert isinstance(body, dict), (what, result.text[:300])
        assert set(body) == {"code", "error"}, (what, body)
        assert isinstance(body["code"], str), (what, body)
        assert isinstance(body["error"], str), (what, body)


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,  # the same examples on every run: a failure here is reproducible
    suppress_health_check=list(HealthCheck),
)
@given(data=st.data())
def test_no_json_answers_a_5xx_or_an_odd_shape(
    target: Target, method: str, path: str, data: st.DataObject
) -> None:
    operation = target.document["paths"][path][method.lower()]
    body = data.draw(bodies(target.fields(operation)), label="body")
    params = {
        p["name"]: data.draw(QUERY_VALUES, label=p["name"])
        for p in operation.get("parameters", [])
        if p["in"] == "query" and data.draw(st.booleans(), label=f"send {p['name']}")
    }
    signed = data.draw(st.sampled_from([True, True, True, False]), label="signed in")
    headers = {"Content-Type": "application/json", **(target.auth if signed else {})}
    result = target.client.simulate_request(
        method,
        target.concrete(method, path),
        body=body,
        params=params,
        headers=headers,
    )
    _check(result, f"{method} {path} {body[:80]!r} {params}")
    ran[target.store] = ran.get(target.store, 0) + 1
