"""The served document describes what hookmail POSTs to targets (its `webhooks` entry), and
a real payload, as signed_request builds it, matches that description field for field."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from dependency_injector import providers
from falcon import testing

from hookmail.adapters.sql.engine import make_engine, migrate
from hookmail.entrypoints.container import Container
from hookmail.entrypoints.http.app import create_app
from hookmail.entrypoints.settings import Settings
from hookmail.webhooks import WebhookPayload, signed_request
from tests.integration.mail.test_signed_request import RAW

pytestmark = pytest.mark.e2e

SECRET = "whsec_" + "c2VjcmV0LWtleS1ieXRlcy0xMjM0NTY3ODkwMTI="


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    url = f"sqlite:///{tmp_path_factory.mktemp('openapi') / 'hookmail.db'}"
    migrate(make_engine(url))
    settings = Settings(database_url=url, secret_key="k" * 64, smtp_hostname="mx.test")
    app = create_app(Container(settings=providers.Object(settings)))
    return dict(testing.TestClient(app).simulate_get("/api/v1/openapi.json").json)


def _payload_schema(document: dict[str, Any]) -> dict[str, Any]:
    post = document["webhooks"]["mailReceived"]["post"]
    return dict(post["requestBody"]["content"]["application/json"]["schema"])


def test_the_webhook_entry_names_the_signature_headers(document: dict[str, Any]) -> None:
    post = document["webhooks"]["mailReceived"]["post"]
    headers = {p["name"] for p in post["parameters"] if p["in"] == "header"}
    assert headers == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    assert {"2XX", "410"} <= set(post["responses"])


def test_every_payload_field_is_documented_with_a_description(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    payload = schemas["WebhookPayload"]
    assert set(payload["properties"]) == set(WebhookPayload.__annotations__)
    assert set(payload["required"]) == set(payload["properties"])
    for name in ("WebhookPayload", "Envelope", "MailAddress", "Attachment", "Auth", "DkimResult"):
        for field, schema in schemas[name]["properties"].items():
            assert schema.get("description"), f"{name}.{field} has no description"
    assert schemas["Auth"]["properties"]["spf_domain"]["type"] == ["string", "null"]
    assert None in schemas["Auth"]["properties"]["spf"]["enum"]


def test_a_real_payload_matches_the_documented_schema(document: dict[str, Any]) -> None:
    body, _ = signed_request(SECRET, RAW)
    payload = json.loads(body)
    schema = {**_payload_schema(document), "components": document["components"]}
    jsonschema.Draft202012Validator(schema).validate(payload)
    assert set(payload) == set(document["components"]["schemas"]["WebhookPayload"]["properties"])
    assert payload["attachments"]  # the schema saw every nested shape
    assert payload["cc"]


def test_a_payload_missing_a_field_would_not_match(document: dict[str, Any]) -> None:
    body, _ = signed_request(SECRET, RAW)
    payload = json.loads(body)
    del payload["envelope"]["helo"]
    schema = {**_payload_schema(document), "components": document["components"]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(schema).validate(payload)
