"""An app over a real store (SQLite and PostgreSQL) with a fixed clock and a recording mailer."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pyotp
import pytest
from dependency_injector import providers
from falcon import testing

from hookmail.adapters.memory import FixedClock, InlineBackground, RecordingMailer
from hookmail.adapters.passwords import Argon2PasswordHasher
from hookmail.core.ports import UnitOfWork
from hookmail.entrypoints.container import Container
from hookmail.entrypoints.http.app import create_app
from hookmail.entrypoints.settings import Settings
from tests.conftest import SQL_STORES, clean_engine
from tests.dns_server import DnsServer, dns_server

PASSWORD = "correct horse battery"


class Api:
    """A test client that knows the walk every test starts with."""

    def __init__(
        self,
        client: testing.TestClient,
        clock: FixedClock,
        mailer: RecordingMailer,
        uow: Callable[[], UnitOfWork],
    ) -> None:
        self.client = client
        self.clock = clock
        self.mailer = mailer
        self.uow = uow  # the store behind the app, for what only the mail pipeline writes

    def call(
        self, method: str, path: str, token: str | None = None, **kwargs: Any
    ) -> testing.Result:
        headers = kwargs.pop("headers", {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        result = self.client.simulate_request(method, path, headers=headers, **kwargs)
        assert result.status_code < 500, result.text  # no failure path answers 500
        return result

    def sign_up(self, email: str, password: str = PASSWORD) -> dict[str, Any]:
        result = self.call("POST", "/api/v1/accounts", json={"email": email, "password": password})
        assert result.status_code == 201, result.json
        return dict(result.json)

    def sign_in(self, email: str, password: str = PASSWORD) -> dict[str, Any]:
        result = self.call("POST", "/api/v1/sessions", json={"email": email, "password": password})
        assert result.status_code == 200, result.json
        return dict(result.json)

    def new_user(self, email: str = "alice@example.com") -> str:
        """Sign up and in; the access token."""
        self.sign_up(email)
        return str(self.sign_in(email)["access_token"])

    def enable_totp(self, token: str) -> tuple[str, list[str]]:
        """Turn 2FA on; the secret and the backup codes. Moves the clock past the used step."""
        setup = self.call("POST", "/api/v1/accounts/me/2fa/setup", token).json
        code = pyotp.TOTP(setup["secret"]).at(self.clock.now())
        enabled = self.call("POST", "/api/v1/accounts/me/2fa/enable", token, json={"code": code})
        assert enabled.status_code == 200, enabled.json
        self.clock.advance(seconds=30)
        return setup["secret"], enabled.json["backup_codes"]

    def verified_domain(self, token: str, name: str, dns: DnsServer) -> dict[str, Any]:
        """Claim `name` and prove it through the DNS server."""
        domain = self.call("POST", "/api/v1/domains", token, json={"name": name}).json
        dns.zone.txt[f"_hookmail.{name}"] = [f"hookmail-verify={domain['verification_token']}"]
        verified = self.call("POST", f"/api/v1/domains/{domain['id']}/verify", token)
        assert verified.status_code == 200, verified.json
        return dict(verified.json)

    def sign_in_past_2fa(self, email: str, secret: str) -> str:
        """Sign in with the password and a current code; the access token."""
        challenge = self.sign_in(email)["totp_token"]
        code = self.totp(secret)
        result = self.call(
            "POST", "/api/v1/sessions/2fa", json={"totp_token": challenge, "code": code}
        )
        assert result.status_code == 200, result.json
        self.clock.advance(seconds=30)
        return str(result.json["access_token"])

    def totp(self, secret: str) -> str:
        return pyotp.TOTP(secret).at(self.clock.now())


def make_api(container: Container) -> Api:
    clock, mailer = FixedClock(), RecordingMailer()
    container.clock.override(providers.Object(clock))
    container.mailer.override(providers.Object(mailer))
    container.background.override(providers.Object(InlineBackground()))
    container.hasher.override(providers.Object(Argon2PasswordHasher(time_cost=1, memory_cost=1024)))
    return Api(testing.TestClient(create_app(container)), clock, mailer, container.uow)


PUBLIC_DOMAIN = "inbound.hookmail.test"


@pytest.fixture(scope="session")
def dns() -> Iterator[DnsServer]:
    """A real DNS server on 127.0.0.1 for the whole run; tests write its zone."""
    with dns_server() as server:
        yield server


@pytest.fixture(params=SQL_STORES)
def api(request: pytest.FixtureRequest, dns: DnsServer) -> Api:
    dns.zone.txt.clear()
    dns.zone.failing.clear()
    engine = clean_engine(request, request.param)
    settings = Settings(
        smtp_hostname="mx.test", public_domains=(PUBLIC_DOMAIN,), dns_nameservers=dns.nameservers
    )
    container = Container(settings=providers.Object(settings))
    container.engine.override(providers.Object(engine))
    return make_api(container)
