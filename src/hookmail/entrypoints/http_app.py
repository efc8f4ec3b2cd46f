"""create_app(container): the Falcon app over the container's providers."""

from __future__ import annotations

import logging
import os

from prometheus_client import CollectorRegistry, multiprocess
from sqlalchemy.exc import OperationalError

from hookmail.adapters.sql.engine import ping
from hookmail.core.services.domains import sync_public_domains
from hookmail.entrypoints.container import Container
from hookmail.entrypoints.http.app import WsgiApp, build_app
from hookmail.entrypoints.http.context import Ports

log = logging.getLogger("hookmail.http")


def create_app(container: Container) -> WsgiApp:
    settings = container.settings()
    ports = Ports(
        uow=container.uow,
        clock=container.clock(),
        hasher=container.hasher(),
        emails=container.emails(),
        access_tokens=container.access_tokens(),
        mailer=container.mailer(),
        limits=container.limits(),
        dns=container.dns(),
        public_url=settings.public_url,
        trusted_proxies=settings.trusted_proxies,
    )
    try:
        sync_public_domains(container.uow(), ports.clock, names=settings.public_domains)
    except OperationalError as exc:  # not migrated, or unreachable: /readyz will say so
        log.error("could not sync public domains (run `hookmail migrate`?): %s", exc.orig)
    return build_app(ports, lambda: ping(container.engine()), _exposition())


def _exposition() -> CollectorRegistry | None:
    """Under `hookmail serve` every process writes its metrics to PROMETHEUS_MULTIPROC_DIR;
    then /metrics shows them all: API workers, SMTP worker and delivery worker."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return None
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry
