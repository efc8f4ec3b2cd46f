"""The generated OpenAPI document keeps every promise of the seed's API text
(`tests/data/rest-api.txt`, a copy of the contract): each operation at its path and method,
with its id, tag, parameters, request body, statuses and response schemas, and every field the
seed's examples show."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from attrs import define, field
from dependency_injector import providers
from falcon import testing

from hookmail.adapters.sql.engine import make_engine, migrate
from hookmail.entrypoints.container import Container
from hookmail.entrypoints.http.app import create_app
from hookmail.entrypoints.settings import Settings

pytestmark = pytest.mark.e2e

SEED = Path(__file__).parents[2] / "data" / "rest-api.txt"
_OPERATION = re.compile(r"^(GET|POST|PUT|PATCH|DELETE) (/\S+)$")


@define
class SeedOperation:
    method: str
    path: str
    operation_id: str = ""
    tag: str = ""
    parameters: list[tuple[str, str]] = field(factory=list)
    body: str | None = None
    body_fields: set[str] = field(factory=set)
    statuses: list[str] = field(factory=list)
    responses: dict[str, str] = field(factory=dict)  # status -> "Name" or "array<Name>"
    response_fields: dict[str, set[str]] = field(factory=dict)


def _example_fields(lines: list[str], start: int) -> set[str]:
    """The keys of the JSON example that starts at `lines[start]` (its first line)."""
    depth, text = 0, []
    for line in lines[start:]:
        text.append(line)
        depth += line.count("{") + line.count("[") - line.count("}") - line.count("]")
        if depth <= 0:
            break
    example = json.loads("\n".join(text))
    first = example[0] if isinstance(example, list) else example
    return set(first) if isinstance(first, dict) else set()


def seed_operations() -> list[SeedOperation]:
    lines = SEED.read_text(encoding="utf-8").splitlines()
    found: list[SeedOperation] = []
    for number, line in enumerate(lines):
        if match := _OPERATION.match(line):
            found.append(SeedOperation(match[1].lower(), match[2]))
            found[-1].tag = lines[number + 3].strip()
            continue
        if not found:
            continue
        op = found[-1]
        if line.startswith("Operation ID: "):
            op.operation_id = line.removeprefix("Operation ID: ")
        elif m := re.match(r"^\| (path|query) \| (\w+) \|", line):
            op.parameters.append((m[1], m[2]))
        elif m := re.match(r"^\| application/json \| (\w+)( \{)?", line):
            op.body = m[1]
            if m[2]:
                op.body_fields = _example_fields(["{", *lines[number + 1 :]], 0)
        elif m := re.match(r"^\| (\d{3}) \|", line):
            op.statuses.append(m[1])
        elif m := re.match(r"^(\d{3}) application/json (\S+)$", line):
            op.responses[m[1]] = m[2]
            if lines[number + 1].startswith(("{", "[")):
                op.response_fields[m[1]] = _example_fields(lines, number + 1)
    return found


SEED_OPERATIONS = seed_operations()


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    url = f"sqlite:///{tmp_path_factory.mktemp('openapi') / 'hookmail.db'}"
    migrate(make_engine(url))
    settings = Settings(database_url=url, secret_key="k" * 64, smtp_hostname="mx.test")
    app = create_app(Container(settings=providers.Object(settings)))
    return dict(testing.TestClient(app).simulate_get("/api/v1/openapi.json").json)


def _component(document: dict[str, Any], schema: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    ref = schema["$ref"]
    name = ref.rpartition("/")[2]
    return name, document["components"]["schemas"][name]


def test_the_seed_text_was_read_whole() -> None:
    assert len(SEED_OPERATIONS) == 32
    assert all(op.operation_id and op.statuses for op in SEED_OPERATIONS)


@pytest.mark.parametrize("seed", SEED_OPERATIONS, ids=lambda op: op.operation_id)
def test_the_document_keeps_the_seed_operation(
    document: dict[str, Any], seed: SeedOperation
) -> None:
    operation = document["paths"][seed.path][seed.method]
    assert operation["operationId"] == seed.operation_id
    assert operation["tags"] == [seed.tag]
    assert set(seed.statuses) <= set(operation["responses"])
    parameters = {(p["in"], p["name"]) for p in operation.get("parameters", [])}
    assert set(seed.parameters) <= parameters
    if seed.body is None:
        assert "requestBody" not in operation
    else:
        name, body = _component(
            document, operation["requestBody"]["content"]["application/json"]["schema"]
        )
        assert name == seed.body
        assert seed.body_fields <= set(body["properties"])
    for status, shape in seed.responses.items():
        schema = operation["responses"][status]["content"]["application/json"]["schema"]
        if shape == "any":  # the seed leaves it open (sign-in: a session or a 2FA challenge)
            assert "oneOf" in schema
            continue
        if shape.startswith("array<"):
            assert schema["type"] == "array"
            schema, shape = schema["items"], shape.removeprefix("array<").removesuffix(">")
        name, component = _component(document, schema)
        assert name == shape
        assert seed.response_fields.get(status, set()) <= set(component["properties"])
        assert seed.response_fields.get(status, set()) <= set(component["required"])
