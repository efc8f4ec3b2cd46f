"""Helpers every resource shares: the unit-of-work factory type, reading a request."""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable
from typing import BinaryIO, TypeVar, cast, get_args

import attrs
import falcon

from hookmail.core.errors import InvalidField
from hookmail.core.ports import UnitOfWork
from hookmail.entrypoints.http.errors import InvalidJson, PayloadTooLarge
from hookmail.entrypoints.settings import Network

MAX_BODY = 1024 * 1024
MAX_DEPTH = 32
T = TypeVar("T", bound=attrs.AttrsInstance)


Uow = Callable[[], UnitOfWork]
"""A unit-of-work factory: resources live for the whole app, a unit of work for one request."""


def json_body(req: falcon.Request) -> object:
    """The request body parsed as JSON, at most 1 MiB and 32 levels deep; chunked bodies are
    read like others. 400 invalid_json, 413, or 422 for a string no store can hold."""
    if req.content_length is not None and req.content_length > MAX_BODY:
        raise PayloadTooLarge(MAX_BODY)
    raw = _body_stream(req).read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        raise PayloadTooLarge(MAX_BODY)
    if not raw.strip():
        raise InvalidJson("the request body is empty; send a JSON object")
    try:
        data = json.loads(raw, parse_constant=_no_constant)
    except RecursionError:
        raise InvalidJson(f"the request body is nested deeper than {MAX_DEPTH} levels") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidJson(f"the request body is not valid JSON: {_short(str(exc))}") from None
    check_json(data)
    return data


def _body_stream(req: falcon.Request) -> BinaryIO:
    """Falcon's bounded stream reads nothing without Content-Length; a server that decodes
    `Transfer-Encoding: chunked` (gunicorn says so by `wsgi.input_terminated`) ends the
    stream itself, so its input is read directly, still at most MAX_BODY + 1 bytes."""
    if req.content_length is None and req.env.get("wsgi.input_terminated"):
        return cast(BinaryIO, req.stream)
    return cast(BinaryIO, req.bounded_stream)


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not a JSON number")


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def check_json(data: object) -> None:
    """Refuse what parsed but can't be handled: nesting past MAX_DEPTH (400), and strings
    holding a lone surrogate (not Unicode) or NUL (no PostgreSQL text holds it) (422,
    naming the field). Iterative, so no depth can exhaust the stack."""
    stack: list[tuple[object, str, int]] = [(data, "$", 0)]
    while stack:
        value, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise InvalidJson(f"the request body is nested deeper than {MAX_DEPTH} levels")
        if isinstance(value, str):
            _check_text(value, path)
        elif isinstance(value, dict):
            for key, item in value.items():
                _check_text(key, path)
                stack.append((item, f"{path}.{_short(key, 64)}", depth + 1))
        elif isinstance(value, list):
            stack.extend((item, f"{path}[{n}]", depth + 1) for n, item in enumerate(value))


def _check_text(text: str, path: str) -> None:
    if "\0" in text:
        raise InvalidField(path.removeprefix("$."), "must not contain NUL characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidField(
            path.removeprefix("$."), "is not valid Unicode (it holds a lone surrogate)"
        ) from None


def query(req: falcon.Request, cls: type[T]) -> T:
    """The query string as a `cls`, an attrs class of optional `str`/`int` fields (`PageQuery`);
    422 naming a parameter that should be a whole number and is not."""
    values: dict[str, object] = {}
    for field in attrs.fields(attrs.resolve_types(cls)):
        if int in (field.type, *get_args(field.type)):
            value: object = int_param(req, field.name)
        else:
            value = req.get_param(field.name)
        if value is not None:
            values[field.name] = value
    return cls(**values)


def client_address(req: falcon.Request, trusted: tuple[Network, ...]) -> str:
    """The socket's peer, or the nearest untrusted hop of X-Forwarded-For behind a trusted proxy."""
    peer = req.remote_addr or "unknown"
    if not trusted:
        return peer
    hops = [h.strip() for h in (req.get_header("X-Forwarded-For") or "").split(",") if h.strip()]
    candidate = peer
    for hop in [peer, *reversed(hops)]:
        try:
            address = ipaddress.ip_address(hop)
        except ValueError:
            return candidate
        candidate = str(address)
        if not any(address in network for network in trusted):
            return candidate
    return candidate


_WHOLE = re.compile(r"-?[0-9]+")
_HUGE = 10**18  # a larger number means the same: a page past the data, or a size over 100


def int_param(req: falcon.Request, name: str) -> int | None:
    """A whole-number query parameter (ASCII digits), or None when absent; 422 otherwise.

    Past 18 digits the number counts as 10**18, so no number costs anything to read."""
    raw = req.get_param(name)
    if raw is None:
        return None
    if not _WHOLE.fullmatch(raw):
        raise InvalidField(name, "must be a whole number")
    digits = raw.lstrip("-")
    value = _HUGE if len(digits) > 18 else int(digits)
    return -value if raw.startswith("-") else value
