"""create_app(container): the Falcon app over the container's providers, the one place that
builds resources and names the collaborators each one uses."""

from __future__ import annotations

import logging
import os

import falcon
from cattrs.errors import BaseValidationError
from prometheus_client import CollectorRegistry, multiprocess
from sqlalchemy.exc import OperationalError

from hookmail.adapters.sql.engine import ping
from hookmail.core.errors import DomainError
from hookmail.core.services.domains import sync_public_domains
from hookmail.entrypoints.container import Container
from hookmail.entrypoints.http import errors
from hookmail.entrypoints.http.auth import AuthMiddleware
from hookmail.entrypoints.http.metrics import HttpMetrics
from hookmail.entrypoints.http.openapi import document
from hookmail.entrypoints.http.resources import (
    accounts,
    attachments,
    domains,
    messages,
    sessions,
    smtp_policies,
    system,
    two_factor,
    webhooks,
)
from hookmail.entrypoints.web.app import add_dashboard

API = "/api/v1"

WsgiApp = falcon.App[falcon.Request, falcon.Response]

log = logging.getLogger("hookmail.http")


def create_app(container: Container) -> WsgiApp:
    """The API over `container`. `/metrics` shows every process's metrics under
    `hookmail serve` (multiprocess mode), else this app's own."""
    settings = container.settings()
    uow, clock, hasher = container.uow, container.clock(), container.hasher()
    tokens, limits = container.access_tokens(), container.limits()
    credentials = container.credential_hasher()  # SMTP credentials of policies
    quotas = container.quotas()
    try:
        sync_public_domains(uow(), clock, names=settings.public_domains)
    except OperationalError as exc:  # not migrated, or unreachable: /readyz will say so
        log.error("could not sync public domains (run `hookmail migrate`?): %s", exc.orig)

    metrics = HttpMetrics(CollectorRegistry())
    auth = AuthMiddleware(uow, clock, tokens, settings.trusted_proxies)
    app: WsgiApp = falcon.App(middleware=[metrics, auth])
    app.req_options.strip_url_path_trailing_slash = True

    app.add_error_handler(Exception, errors.handle_unexpected)
    app.add_error_handler(OperationalError, errors.handle_store_down)
    app.add_error_handler(DomainError, errors.handle_domain_error)
    app.add_error_handler(BaseValidationError, errors.handle_invalid_body)
    app.set_error_serializer(errors.serialize_http_error)

    reset = accounts.PasswordReset(
        uow,
        clock,
        hasher,
        container.mailer(),
        limits,
        container.background(),
        public_url=settings.public_url,
    )
    engine = container.engine()
    pause = 0.05 if engine.dialect.name == "sqlite" else 0.0  # see messages.WebhookReplay
    routes: list[tuple[str, object]] = [
        (
            f"{API}/accounts",
            accounts.AccountCollection(uow, clock, hasher, container.emails(), limits),
        ),
        (f"{API}/accounts/me", accounts.AccountMe(uow, clock, hasher, limits)),
        (f"{API}/accounts/me/password", accounts.Password(uow, clock, hasher, limits)),
        (f"{API}/accounts/me/timezone", accounts.Timezone(uow, clock)),
        (f"{API}/accounts/password-reset", reset),
        (f"{API}/accounts/me/2fa", two_factor.TotpResource(uow, clock, limits)),
        (f"{API}/accounts/me/2fa/setup", two_factor.TotpSetupResource(uow, clock)),
        (f"{API}/accounts/me/2fa/enable", two_factor.TotpEnable(uow, clock, limits)),
        (f"{API}/accounts/me/2fa/backup-codes", two_factor.BackupCodes(uow, clock, limits)),
        (f"{API}/sessions", sessions.SessionCollection(uow, clock, hasher, tokens, limits)),
        (f"{API}/sessions/2fa", sessions.TotpSession(uow, clock, tokens, limits)),
        (f"{API}/sessions/refresh", sessions.SessionRefresh(uow, clock, tokens)),
        (f"{API}/domains", domains.DomainCollection(uow, clock, quotas)),
        (f"{API}/domains/{{id:uuid}}", domains.DomainItem(uow)),
        (
            f"{API}/domains/{{id:uuid}}/verify",
            domains.DomainVerification(uow, clock, container.dns()),
        ),
        (f"{API}/smtp-policies", smtp_policies.PolicyCollection(uow, clock, credentials, quotas)),
        (f"{API}/smtp-policies/{{id:uuid}}", smtp_policies.PolicyItem(uow, clock, credentials)),
        (f"{API}/webhooks", webhooks.WebhookCollection(uow, clock, quotas)),
        (f"{API}/webhooks/{{id:uuid}}", webhooks.WebhookItem(uow, clock)),
        (f"{API}/webhooks/{{id:uuid}}/logs", webhooks.DeliveryLogCollection(uow)),
        (f"{API}/webhooks/{{id:uuid}}/logs/{{logId:uuid}}", webhooks.DeliveryLogItem(uow)),
        (f"{API}/webhooks/{{id:uuid}}/replay", messages.WebhookReplay(uow, clock, pause=pause)),
        (f"{API}/messages", messages.MessageCollection(uow)),
        (f"{API}/messages/{{id:uuid}}", messages.MessageItem(uow)),
        (f"{API}/messages/{{id:uuid}}/raw", messages.MessageRaw(uow)),
        (f"{API}/messages/{{id:uuid}}/replay", messages.MessageReplay(uow, clock)),
        (
            f"{API}/attachments/{{token}}",
            # the key is read from the store on first use: the app starts on an unmigrated store
            attachments.AttachmentItem(uow, clock, container.attachment_links().key),
        ),
        ("/healthz", system.Health()),
        ("/readyz", system.Ready(lambda: ping(engine))),
        ("/metrics", system.Metrics(_exposition() or metrics.registry)),
    ]
    # The document describes every route, itself included: its class stands in for it.
    spec = f"{API}/openapi.json"
    routes.append((spec, system.OpenApi(document([*routes, (spec, system.OpenApi)]))))
    for template, resource in routes:
        app.add_route(template, resource)
    add_dashboard(app, container)  # the pages at /, over the same use cases
    return app


def _exposition() -> CollectorRegistry | None:
    """Under `hookmail serve` every process writes its metrics to PROMETHEUS_MULTIPROC_DIR;
    then /metrics shows them all: API workers, SMTP worker and delivery worker."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return None
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry
