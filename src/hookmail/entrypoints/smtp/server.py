"""The SMTP worker: aiosmtpd on a thread of its own, over the container's adapters."""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

from aiosmtpd.controller import Controller
from prometheus_client import CollectorRegistry

from hookmail.adapters.notify import ROUTES
from hookmail.core.services.authentication import AuthChecks
from hookmail.entrypoints.container import Container
from hookmail.entrypoints.smtp.auth import SmtpAuthenticator
from hookmail.entrypoints.smtp.guard import ClientSlots, GuardedSMTP
from hookmail.entrypoints.smtp.handler import InboundHandler


class HookmailController(Controller):
    def __init__(
        self,
        handler: Any,
        *,
        slots: ClientSlots,
        greeting_timeout: float,
        logins: SmtpAuthenticator,
        **kwargs: Any,
    ) -> None:
        super().__init__(handler, **kwargs)
        self.slots = slots
        self._greeting_timeout = greeting_timeout
        self._logins = logins

    def factory(self) -> GuardedSMTP:
        return GuardedSMTP(
            self.handler,
            slots=self.slots,
            greeting_timeout=self._greeting_timeout,
            logins=self._logins,
            **self.SMTP_kwargs,
        )


def _event_loop() -> asyncio.AbstractEventLoop:
    """uvloop: the same asyncio API with its event loop in C (measured: see
    docs/performance.md); asyncio's own loop where uvloop is not installed."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


def tls_context(cert: str | None, key: str | None) -> ssl.SSLContext | None:
    if not cert or not key:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


def smtp_controller(container: Container, registry: CollectorRegistry | None = None) -> Controller:
    """A controller ready to start() on HOOKMAIL_SMTP_HOST:PORT."""
    settings = container.settings()
    auth = SmtpAuthenticator(
        container.uow,
        container.clock(),
        container.credential_hasher(),
        container.limits().failures,
        concurrency=settings.smtp_auth_concurrency,
        registry=registry,
    )
    handler = InboundHandler(
        container.uow,
        container.clock(),
        auth,
        container.spf(),
        container.dkim(),
        container.dmarc(),
        hostname=settings.smtp_hostname,
        routes_changed=container.notifier().listen(ROUTES),
        auth_checks=AuthChecks(settings.auth_checks),
        registry=registry,
        transport=container.transport(),
        delivery=container.delivery_config(),
        sync_timeout=settings.sync_timeout,
        health=container.health(),
    )
    options: dict[str, Any] = {
        "data_size_limit": settings.max_message_bytes,
        "enable_SMTPUTF8": True,
        "auth_require_tls": settings.smtp_auth_require_tls,
        "tls_context": tls_context(settings.tls_cert, settings.tls_key),
        "ident": "hookmail ESMTP",
        "timeout": settings.smtp_idle_timeout,
    }
    return HookmailController(
        handler,
        loop=_event_loop(),
        slots=ClientSlots(settings.smtp_max_connections_per_ip),
        greeting_timeout=settings.smtp_greeting_timeout,
        logins=auth,
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        server_hostname=settings.smtp_hostname,
        **options,
    )
