"""The SMTP worker: aiosmtpd on a thread of its own, over the container's adapters."""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

from aiosmtpd.controller import Controller
from prometheus_client import CollectorRegistry

from hookmail.adapters.notify import ROUTES
from hookmail.entrypoints.container import Container
from hookmail.entrypoints.smtp.handler import HookmailSMTP, InboundHandler


class HookmailController(Controller):
    def factory(self) -> HookmailSMTP:
        return HookmailSMTP(self.handler, **self.SMTP_kwargs)


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
    handler = InboundHandler(
        container.uow,
        container.clock(),
        container.hasher(),
        container.spf(),
        container.dkim(),
        hostname=settings.smtp_hostname,
        routes_changed=container.notifier().listen(ROUTES),
        registry=registry,
    )
    options: dict[str, Any] = {
        "data_size_limit": settings.max_message_bytes,
        "enable_SMTPUTF8": True,
        "auth_require_tls": settings.smtp_auth_require_tls,
        "authenticator": handler.authenticate,
        "tls_context": tls_context(settings.tls_cert, settings.tls_key),
        "ident": "hookmail ESMTP",
    }
    return HookmailController(
        handler,
        loop=_event_loop(),
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        server_hostname=settings.smtp_hostname,
        **options,
    )
