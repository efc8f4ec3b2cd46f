"""Health, readiness, metrics and the OpenAPI document."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import falcon
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from hookmail.entrypoints.http.auth import public
from hookmail.entrypoints.http.openapi import operation


class Health:
    @public
    @operation("health", "Liveness")
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"status": "ok"}


class Ready:
    """Ready when the store answers."""

    def __init__(self, ping: Callable[[], None]) -> None:
        self._ping = ping

    @public
    @operation("ready", "Readiness: the store answers", errors=(503,))
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        try:
            self._ping()
        except Exception as exc:  # any failure to reach the store means "not ready"
            resp.status = falcon.HTTP_503
            resp.media = {"code": "store_unavailable", "error": f"the store is unreachable: {exc}"}
            return
        resp.media = {"status": "ready"}


class Metrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    @public
    @operation("metrics", "Prometheus metrics")
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = CONTENT_TYPE_LATEST
        resp.data = generate_latest(self._registry)


class OpenApi:
    def __init__(self, document: dict[str, Any]) -> None:
        self._document = document

    @public
    @operation("openapi", "This document")
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = self._document
