"""The Falcon WSGI application: routes, middleware and error handling."""

from __future__ import annotations

from collections.abc import Callable

import falcon
from cattrs.errors import BaseValidationError
from prometheus_client import CollectorRegistry
from sqlalchemy.exc import OperationalError

from hookmail.core.errors import DomainError
from hookmail.entrypoints.http import errors
from hookmail.entrypoints.http.auth import AuthMiddleware
from hookmail.entrypoints.http.context import Ports
from hookmail.entrypoints.http.metrics import HttpMetrics
from hookmail.entrypoints.http.openapi import document
from hookmail.entrypoints.http.resources import (
    accounts,
    domains,
    sessions,
    smtp_policies,
    system,
    two_factor,
    webhooks,
)

API = "/api/v1"


WsgiApp = falcon.App[falcon.Request, falcon.Response]


def build_app(
    ports: Ports, ping: Callable[[], None], exposition: CollectorRegistry | None = None
) -> WsgiApp:
    """The app over the given ports; `ping` raises when the store is unreachable.

    `/metrics` shows `exposition` when given (every process's metrics, in multiprocess
    mode), else this app's own.
    """
    metrics = HttpMetrics(CollectorRegistry())
    app: WsgiApp = falcon.App(middleware=[metrics, AuthMiddleware(ports)])
    app.req_options.strip_url_path_trailing_slash = True

    app.add_error_handler(Exception, errors.handle_unexpected)
    app.add_error_handler(OperationalError, errors.handle_store_down)
    app.add_error_handler(DomainError, errors.handle_domain_error)
    app.add_error_handler(BaseValidationError, errors.handle_invalid_body)
    app.set_error_serializer(errors.serialize_http_error)

    app.add_route(f"{API}/accounts", accounts.AccountCollection(ports))
    app.add_route(f"{API}/accounts/me", accounts.AccountMe(ports))
    app.add_route(f"{API}/accounts/me/password", accounts.Password(ports))
    app.add_route(f"{API}/accounts/me/timezone", accounts.Timezone(ports))
    app.add_route(f"{API}/accounts/password-reset", accounts.PasswordReset(ports))
    app.add_route(f"{API}/accounts/me/2fa", two_factor.TotpResource(ports))
    app.add_route(f"{API}/accounts/me/2fa/setup", two_factor.TotpSetupResource(ports))
    app.add_route(f"{API}/accounts/me/2fa/enable", two_factor.TotpEnable(ports))
    app.add_route(f"{API}/accounts/me/2fa/backup-codes", two_factor.BackupCodes(ports))
    app.add_route(f"{API}/sessions", sessions.SessionCollection(ports))
    app.add_route(f"{API}/sessions/2fa", sessions.TotpSession(ports))
    app.add_route(f"{API}/sessions/refresh", sessions.SessionRefresh(ports))
    app.add_route(f"{API}/domains", domains.DomainCollection(ports))
    app.add_route(f"{API}/domains/{{id:uuid}}", domains.DomainItem(ports))
    app.add_route(f"{API}/domains/{{id:uuid}}/verify", domains.DomainVerification(ports))
    app.add_route(f"{API}/smtp-policies", smtp_policies.PolicyCollection(ports))
    app.add_route(f"{API}/smtp-policies/{{id:uuid}}", smtp_policies.PolicyItem(ports))
    app.add_route(f"{API}/webhooks", webhooks.WebhookCollection(ports))
    app.add_route(f"{API}/webhooks/{{id:uuid}}", webhooks.WebhookItem(ports))
    app.add_route(f"{API}/webhooks/{{id:uuid}}/logs", webhooks.DeliveryLogCollection(ports))
    app.add_route(
        f"{API}/webhooks/{{id:uuid}}/logs/{{logId:uuid}}", webhooks.DeliveryLogItem(ports)
    )

    app.add_route("/healthz", system.Health())
    app.add_route("/readyz", system.Ready(ping))
    app.add_route("/metrics", system.Metrics(exposition or metrics.registry))
    app.add_route(f"{API}/openapi.json", system.OpenApi(document()))
    return app
