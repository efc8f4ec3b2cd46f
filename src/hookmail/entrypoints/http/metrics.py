"""Prometheus metrics: request counts and latencies by route template, method and status."""

from __future__ import annotations

import time

import falcon
from prometheus_client import CollectorRegistry, Counter, Histogram


class HttpMetrics:
    """Middleware; one registry per app so several apps (tests) never collide."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self._requests = Counter(
            "hookmail_http_requests",
            "HTTP requests answered, by route template, method and status.",
            ["route", "method", "status"],
            registry=registry,
        )
        self._latency = Histogram(
            "hookmail_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template and method.",
            ["route", "method"],
            registry=registry,
        )

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        req.context.started = time.perf_counter()

    def process_response(
        self, req: falcon.Request, resp: falcon.Response, resource: object, req_succeeded: bool
    ) -> None:
        started = getattr(req.context, "started", None)
        route = req.uri_template or "unmatched"
        status = str(resp.status_code)
        self._requests.labels(route, req.method, status).inc()
        if started is not None:
            self._latency.labels(route, req.method).observe(time.perf_counter() - started)
