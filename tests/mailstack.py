"""A whole hookmail over one store: the API (test client), the SMTP worker on a real socket
and a delivery worker, with a fixed clock the test moves. For tests that need mail in the
store and read it through the API."""

from __future__ import annotations

import smtplib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from dependency_injector import providers
from sqlalchemy import Engine

from hookmail.adapters.notify import JOBS
from hookmail.adapters.passwords import Argon2PasswordHasher
from hookmail.entrypoints.container import Container
from hookmail.entrypoints.deliver import DeliveryWorker
from hookmail.entrypoints.settings import Settings
from hookmail.entrypoints.smtp.server import smtp_controller
from tests.dns_server import DnsServer
from tests.integration.e2e.conftest import PUBLIC_DOMAIN, Api, make_api
from tests.integration.mail.conftest import Pipeline, _settings, free_port, serving


class MailStack:
    def __init__(self, api: Api, settings: Settings, container: Container) -> None:
        self.api = api
        self.settings = settings
        self.container = container

    def webhook(self, token: str, local: str, target_url: str, **fields: Any) -> dict[str, Any]:
        body = {"address": f"{local}@{PUBLIC_DOMAIN}", "target_url": target_url, **fields}
        made = self.api.call("POST", "/api/v1/webhooks", token, json=body)
        assert made.status_code == 201, made.json
        return dict(made.json)

    def send(self, raw: bytes, *locals_: str, sender: str = "alice@example.org") -> str:
        """Send `raw` to `locals_` on the public domain; the stored message's id (from 250)."""
        with smtplib.SMTP("127.0.0.1", self.settings.smtp_port, timeout=30) as client:
            client.ehlo("sender.example.org")
            code, _ = client.mail(sender)
            assert code == 250
            for local in locals_:
                code, reply = client.rcpt(f"{local}@{PUBLIC_DOMAIN}")
                assert code == 250, reply
            code, reply = client.data(raw)
        assert code == 250, reply
        hexid = reply.decode().rsplit(" ", 1)[-1]
        return f"{hexid[:8]}-{hexid[8:12]}-{hexid[12:16]}-{hexid[16:20]}-{hexid[20:]}"


@contextmanager
def mail_stack(
    engine: Engine, dns: DnsServer, *, deliver: bool = True, **overrides: Any
) -> Iterator[MailStack]:
    """Running until the block ends; without a delivery worker when not `deliver`."""
    values: dict[str, Any] = {
        "smtp_port": free_port(),
        "smtp_hostname": "mx.hookmail.test",
        "smtp_auth_require_tls": False,
        "dns_nameservers": dns.nameservers,
        "allow_private_targets": True,
        "retry_schedule": (3600,),
        "delivery_timeout": 2.0,
        "public_domains": (PUBLIC_DOMAIN,),
    }
    values.update(overrides)
    settings = Settings(**values)
    container = Container(settings=providers.Object(settings))
    container.engine.override(providers.Object(engine))
    api = make_api(container)  # the fixed clock, a recording mailer, a quick hasher
    worker = DeliveryWorker(
        container.uow,
        container.clock(),
        container.transport(),
        container.delivery_config(),
        poll_interval=0.05,
        listener=container.notifier().listen(JOBS),
        health=container.health(),
    )
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    controller = smtp_controller(container)
    controller.start()
    if deliver:
        thread.start()
    try:
        yield MailStack(api, settings, container)
    finally:
        controller.stop()
        controller.handler.close()
        stop.set()
        if deliver:
            thread.join(timeout=30)


@contextmanager
def running_pipeline(engine: Engine, dns: DnsServer, **overrides: Any) -> Iterator[Pipeline]:
    """The mail pipeline of mail/conftest.py (real clock, the configured mailer) on any
    store: SMTP worker, delivery worker with webhook health, a receiver as the target."""
    dns.zone.txt.clear()
    container = Container(settings=providers.Object(_settings(dns, **overrides)))
    container.engine.override(providers.Object(engine))
    container.hasher.override(providers.Object(Argon2PasswordHasher(time_cost=1, memory_cost=1024)))
    with serving(container, dns) as running:
        yield running
