"""schemathesis over every documented operation, in process through WSGI, signed in:
no 5xx, and every answer matches the document (status, content type, body schema)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
import schemathesis
from dependency_injector import providers
from falcon import testing
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from hookmail.adapters.access_tokens import JwtAccessTokens
from hookmail.adapters.passwords import Argon2PasswordHasher
from hookmail.adapters.sql.engine import make_engine, migrate
from hookmail.core.mail import AuthResults, Envelope
from hookmail.core.services import inbound
from hookmail.entrypoints.container import Container
from hookmail.entrypoints.http.app import create_app
from hookmail.entrypoints.settings import Settings

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

_state: dict[str, Any] = {}


def _app(tmp: Path) -> Any:
    engine = make_engine(f"sqlite:///{tmp / 'fuzz.db'}")
    migrate(engine)
    settings_ = Settings(
        smtp_hostname="mx.test",
        public_domains=("inbound.hookmail.test",),
        dns_nameservers=(("127.0.0.1", 9),),  # nothing answers: verification fails fast
        login_max_failures=1_000_000,
        signups_per_hour=1_000_000,
        reset_requests_per_hour=1_000_000,
    )
    container = Container(settings=providers.Object(settings_))
    container.engine.override(providers.Object(engine))
    container.hasher.override(providers.Object(Argon2PasswordHasher(time_cost=1, memory_cost=1024)))
    container.access_tokens.override(
        providers.Object(JwtAccessTokens(["fuzz-key-" * 8], lifetime_seconds=86_400))
    )
    app = create_app(container)
    client = testing.TestClient(app)
    account = {"email": "fuzz@example.com", "password": "correct horse battery"}
    client.simulate_post("/api/v1/accounts", json=account)
    token = client.simulate_post("/api/v1/sessions", json=account).json["access_token"]
    # something to find: a domain, a policy and a webhook on the public domain
    auth = {"Authorization": f"Bearer {token}"}
    client.simulate_post("/api/v1/domains", json={"name": "fuzz.example"}, headers=auth)
    client.simulate_post("/api/v1/smtp-policies", json={"name": "p"}, headers=auth)
    hook = client.simulate_post(
        "/api/v1/webhooks",
        headers=auth,
        json={"address": "me@inbound.hookmail.test", "target_url": "https://h.example.net/"},
    ).json
    _receive_a_message(container, UUID(hook["id"]))
    _state["token"] = token
    return app


def _receive_a_message(container: Container, webhook_id: UUID) -> None:
    """A message for the webhook, stored as the SMTP worker stores one: something for the
    message operations to list, show and replay."""
    uow = container.uow()
    with uow.reading():
        webhook = uow.webhooks.get(webhook_id)
    assert webhook is not None
    prepared = inbound.prepare_message(
        container.clock(),
        raw=b"From: a@example.org\r\nSubject: fuzz\r\n\r\nhello\r\n",
        envelope=Envelope(
            mail_from="a@example.org", rcpt_to=(str(webhook.address),), remote_ip="::1", helo="h"
        ),
        auth=AuthResults(),
        accepted=[inbound.Accepted(str(webhook.address), webhook, None)],
        hostname="mx.test",
    )
    inbound.commit_prepared(uow, [prepared])


# Built at collection, as schemathesis wants its schema then; a throwaway SQLite file.
schema = schemathesis.openapi.from_wsgi(
    "/api/v1/openapi.json", _app(Path(tempfile.mkdtemp(prefix="hookmail-fuzz-")))
)


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_answers_as_documented(case: Any) -> None:
    case.call_and_validate(
        headers={"Authorization": f"Bearer {_state['token']}"},
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
    )
