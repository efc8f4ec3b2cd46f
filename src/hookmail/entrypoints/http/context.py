"""Helpers every resource shares: the unit-of-work factory type, reading a request."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable

import falcon

from hookmail.core.ports import UnitOfWork
from hookmail.entrypoints.http.errors import InvalidJson, PayloadTooLarge
from hookmail.entrypoints.settings import Network

MAX_BODY = 1024 * 1024


Uow = Callable[[], UnitOfWork]
"""A unit-of-work factory: resources live for the whole app, a unit of work for one request."""


def json_body(req: falcon.Request) -> object:
    """The request body parsed as JSON, at most 1 MiB; 400 invalid_json or 413 otherwise."""
    if req.content_length is not None and req.content_length > MAX_BODY:
        raise PayloadTooLarge(MAX_BODY)
    raw = req.bounded_stream.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        raise PayloadTooLarge(MAX_BODY)
    if not raw.strip():
        raise InvalidJson("the request body is empty; send a JSON object")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidJson(f"the request body is not valid JSON: {exc}") from None


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
