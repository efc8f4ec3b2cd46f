"""Every Python block of docs/library.md runs as printed: the embedding examples, the Flask,
Django and FastAPI receivers (driven with signed_request: a genuine delivery is accepted, a
tampered one refused), the receiver's tests; and the payload table is the one the
`hookmail.webhooks` TypedDicts describe."""

from __future__ import annotations

import importlib
import re
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import (
    Annotated,
    Any,
    Literal,
    Union,
    get_args,
    get_origin,
    get_type_hints,
    is_typeddict,
)

import pytest

from hookmail.webhooks import WebhookPayload, signed_request

pytestmark = pytest.mark.integration

DOC = Path(__file__).parents[2] / "docs" / "library.md"
_BLOCK = re.compile(r"(?:<!-- file: (?P<file>\S+) -->\n)?```python\n(?P<code>.*?)```", re.DOTALL)
RAW = b"From: Alice <alice@example.org>\r\nSubject: Order 1234\r\n\r\nTwo boxes.\r\n"


def _blocks() -> list[tuple[str | None, str, str]]:
    """(file name or None, code, the heading it sits under)."""
    text = DOC.read_text(encoding="utf-8")
    found = []
    for match in _BLOCK.finditer(text):
        headings = re.findall(r"^#{2,3} (.+)$", text[: match.start()], re.MULTILINE)
        found.append((match["file"], match["code"], headings[-1]))
    return found


BLOCKS = _blocks()


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh directory as cwd and on sys.path, with every `<!-- file: -->` block in it."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    for name, code, _ in BLOCKS:
        if name:
            (tmp_path / name).write_text(code, encoding="utf-8")
    yield tmp_path
    for name, _, _ in BLOCKS:
        if name:
            sys.modules.pop(name.removesuffix(".py"), None)


def _run(code: str) -> dict[str, Any]:
    scope: dict[str, Any] = {"__name__": "docs_example"}
    exec(compile(code, str(DOC), "exec"), scope)  # noqa: S102 (our own docs)
    for name, value in list(scope.items()):
        if name.startswith("test_") and callable(value):
            value()
    return scope


def _django() -> None:
    from django.conf import settings

    if not settings.configured:
        settings.configure(ALLOWED_HOSTS=["testserver"], DEFAULT_CHARSET="utf-8")
        import django

        django.setup()


def _flask_post(app: Any, body: bytes, headers: dict[str, str]) -> int:
    return int(app.test_client().post("/hooks/mail", data=body, headers=headers).status_code)


def _fastapi_post(app: Any, body: bytes, headers: dict[str, str]) -> int:
    from fastapi.testclient import TestClient

    return int(TestClient(app).post("/hooks/mail", content=body, headers=headers).status_code)


def _django_post(view: Any, body: bytes, headers: dict[str, str]) -> int:
    from django.test import RequestFactory

    meta = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}
    request = RequestFactory().post(
        "/hooks/mail", data=body, content_type="application/json", **meta
    )
    return int(view(request).status_code)


def test_the_page_has_every_kind_of_example() -> None:
    headings = {heading for _, _, heading in BLOCKS}
    assert {"Flask", "Django", "FastAPI"} <= headings
    assert any("signed_request" in heading for heading in headings)
    assert len(BLOCKS) >= 7


@pytest.mark.parametrize(
    "block", [b for b in BLOCKS if not b[0]], ids=lambda b: b[2].replace(" ", "-")
)
def test_the_block_runs(block: tuple[str | None, str, str], workdir: Path) -> None:
    _, code, heading = block
    if heading == "Django":
        _django()
    scope = _run(code)
    if heading in ("Django", "FastAPI"):
        post = _django_post if heading == "Django" else _fastapi_post
        target = scope["hookmail_webhook"] if heading == "Django" else scope["app"]
        _a_receiver_accepts_only_genuine_deliveries(target, post, scope["SECRET"])


def test_the_flask_receiver_file_works(workdir: Path) -> None:
    receiver = importlib.import_module("receiver")
    _a_receiver_accepts_only_genuine_deliveries(receiver.app, _flask_post, receiver.SECRET)


def _a_receiver_accepts_only_genuine_deliveries(target: Any, post: Any, secret: str) -> None:
    body, headers = signed_request(secret, RAW)
    assert post(target, body, headers) == 204
    assert post(target, body.replace(b"Order", b"Ordre"), headers) == 400
    assert post(target, body, {k: v for k, v in headers.items() if k != "webhook-id"}) == 400
    assert post(target, body, {**headers, "webhook-timestamp": "yesterday"}) == 400


# -- the payload table ------------------------------------------------------------------------


def _type_name(kind: Any) -> str:
    origin, args = get_origin(kind), get_args(kind)
    if origin is Annotated:
        return _type_name(args[0])
    if origin in (Union, types.UnionType):
        present = [a for a in args if a is not types.NoneType]
        return " or ".join(_type_name(a) for a in present) + " or *null*"
    if origin is Literal:
        return "string"
    if origin is list:
        return f"array of {_type_name(args[0])}"
    return {str: "string", int: "integer", bool: "boolean"}.get(kind, getattr(kind, "__name__", ""))


def _nested(hint: Any) -> tuple[Any, str] | None:
    """The TypedDict inside a field (itself, or the items of a list of it), and the path
    suffix of its fields."""
    inner = get_args(hint)[0]  # past Annotated
    if is_typeddict(inner):
        return inner, "."
    if get_origin(inner) is list and is_typeddict(get_args(inner)[0]):
        return get_args(inner)[0], "[]."
    return None


def _rows(kind: Any, prefix: str, seen: set[str]) -> Iterator[str]:
    """One row per field; a TypedDict's own fields follow it the first time it appears."""
    for name, hint in get_type_hints(kind, include_extras=True).items():
        yield f"| `{prefix}{name}` | {_type_name(hint)} | {get_args(hint)[1]} |"
        nested = _nested(hint)
        if nested is not None and nested[0].__name__ not in seen:
            seen.add(nested[0].__name__)
            yield from _rows(nested[0], f"{prefix}{name}{nested[1]}", seen)


def test_the_payload_table_is_the_one_the_typeddicts_describe() -> None:
    text = DOC.read_text(encoding="utf-8")
    table = text.split("<!-- payload-table", 1)[1].split("-->", 1)[1].split("<!-- /payload")[0]
    expected = "\n".join(
        ["| field | type | meaning |", "| --- | --- | --- |", *_rows(WebhookPayload, "", set())]
    )
    assert table.strip() == expected
