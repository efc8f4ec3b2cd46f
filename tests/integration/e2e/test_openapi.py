"""The OpenAPI document and the served routes agree, and the document is valid 3.1."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from dependency_injector import providers
from falcon import inspect, testing

from hookmail.entrypoints.container import Container
from hookmail.entrypoints.http.app import create_app
from hookmail.entrypoints.settings import Settings
from tests.integration.e2e.conftest import Api

pytestmark = pytest.mark.e2e


PAGES = os.path.join("entrypoints", "web", "")  # the dashboard's resources live here


def _served(api: Api) -> set[tuple[str, str]]:
    """Every route of the API; the dashboard's pages (HTML, entrypoints/web) are no part of it."""
    app = api.client.app
    routes = inspect.inspect_routes(app)
    return {
        (re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path), method.method.lower())
        for route in routes
        for method in route.methods
        if not method.internal and PAGES not in route.source_info
    }


def test_every_served_route_is_documented_and_nothing_else(api: Api) -> None:
    document = api.call("GET", "/api/v1/openapi.json").json
    documented = {(path, method) for path, ops in document["paths"].items() for method in ops}
    assert _served(api) == documented


def test_the_document_is_valid_openapi_3_1(api: Api) -> None:
    from openapi_spec_validator import validate

    document = api.call("GET", "/api/v1/openapi.json").json
    assert document["openapi"] == "3.1.0"
    validate(document)
    ids = [op["operationId"] for ops in document["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))


def test_health_readiness_and_metrics(api: Api) -> None:
    assert api.call("GET", "/healthz").json == {"status": "ok"}
    assert api.call("GET", "/readyz").json == {"status": "ready"}
    api.call("GET", "/api/v1/accounts/me")
    metrics = api.call("GET", "/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    assert (
        'hookmail_http_requests_total{method="GET",route="/api/v1/accounts/me",status="401"}'
        in metrics.text
    )
    assert "hookmail_http_request_duration_seconds_bucket" in metrics.text


def test_readiness_fails_when_the_store_is_down(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'no-such-directory' / 'hookmail.db'}",
        secret_key="k" * 64,
        smtp_hostname="mx.test",
    )
    client = testing.TestClient(create_app(Container(settings=providers.Object(settings))))
    result = client.simulate_get("/readyz")
    assert result.status_code == 503
    assert result.json["code"] == "store_unavailable"


def test_an_unmigrated_store_answers_503_not_500(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'empty.db'}",
        secret_key="k" * 64,
        smtp_hostname="mx.test",
    )
    client = testing.TestClient(create_app(Container(settings=providers.Object(settings))))
    result = client.simulate_post(
        "/api/v1/accounts", json={"email": "a@example.com", "password": "password123"}
    )
    assert result.status_code == 503
    assert result.json["code"] == "store_unavailable"
    assert result.headers["Retry-After"] == "5"
