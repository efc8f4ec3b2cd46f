"""The whole pipeline in one process, over real sockets: smtplib → SMTP worker → store →
delivery worker → an HTTP server on 127.0.0.1. DNS answers come from a real DNS server."""

from __future__ import annotations

import contextlib
import random
import smtplib
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from dependency_injector import providers
from falcon import testing
from prometheus_client import CollectorRegistry

from hookmail.adapters.notify import JOBS
from hookmail.adapters.passwords import Argon2PasswordHasher
from hookmail.entrypoints.container import Container
from hookmail.entrypoints.deliver import DeliveryWorker
from hookmail.entrypoints.http.app import create_app
from hookmail.entrypoints.settings import Settings
from hookmail.entrypoints.smtp.server import smtp_controller
from tests.conftest import SQL_STORES, clean_engine
from tests.dns_server import DnsServer, dns_server
from tests.receiver import Receiver, receiver

PASSWORD = "correct horse battery"


def free_port() -> int:
    """A port nobody listens on, chosen below the kernel's ephemeral range: a port from that
    range (what binding to port 0 gives) can be taken as the local end of some outgoing
    connection between our probe and the server's bind, which made tests fail at random."""
    low = 32768
    with contextlib.suppress(OSError, ValueError):
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    for _ in range(200):
        port = random.randrange(max(1024, low - 12000), low)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Pipeline:
    def __init__(
        self, container: Container, dns: DnsServer, target: Receiver, registry: CollectorRegistry
    ) -> None:
        self.registry = registry  # the SMTP and delivery workers' metrics
        self.container = container
        self.dns = dns
        self.target = target
        self.settings: Settings = container.settings()
        self.api = testing.TestClient(create_app(container))
        self.token = ""

    # -- API helpers ---------------------------------------------------------------------

    def call(self, method: str, path: str, body: Any = None) -> Any:
        result = self.api.simulate_request(
            method, path, json=body, headers={"Authorization": f"Bearer {self.token}"}
        )
        assert result.status_code < 400, result.text
        return result.json

    def sign_up(self, email: str = "owner@example.com") -> None:
        account = {"email": email, "password": PASSWORD}
        self.api.simulate_post("/api/v1/accounts", json=account)
        self.token = self.api.simulate_post("/api/v1/sessions", json=account).json["access_token"]

    def domain(self, name: str = "example.com") -> dict[str, Any]:
        domain = self.call("POST", "/api/v1/domains", {"name": name})
        self.dns.zone.txt[f"_hookmail.{name}"] = [f"hookmail-verify={domain['verification_token']}"]
        return dict(self.call("POST", f"/api/v1/domains/{domain['id']}/verify"))

    def webhook(self, address: str = "in@example.com", **fields: Any) -> dict[str, Any]:
        body = {"address": address, "target_url": self.target.url, **fields}
        return dict(self.call("POST", "/api/v1/webhooks", body))

    def logs(self, webhook_id: str) -> list[dict[str, Any]]:
        return list(self.call("GET", f"/api/v1/webhooks/{webhook_id}/logs?page_size=100"))

    # -- SMTP -----------------------------------------------------------------------------

    def smtp(self) -> smtplib.SMTP:
        client = smtplib.SMTP("127.0.0.1", self.settings.smtp_port, timeout=10)
        client.ehlo("sender.example.org")
        return client

    def send(
        self, raw: bytes | str, *, to: list[str] | None = None, sender: str = "alice@example.org"
    ) -> dict[str, tuple[int, bytes]]:
        with self.smtp() as client:
            return client.sendmail(sender, to or ["in@example.com"], raw)


def _settings(dns: DnsServer, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "smtp_port": free_port(),
        "smtp_hostname": "mx.hookmail.test",
        "smtp_auth_require_tls": False,
        "dns_nameservers": dns.nameservers,
        "allow_private_targets": True,
        "retry_schedule": (0, 0, 0),
        "delivery_timeout": 2.0,
        "public_domains": ("inbound.hookmail.test",),
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(scope="session")
def mail_dns() -> Iterator[DnsServer]:
    with dns_server() as server:
        yield server


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Override in a test module to change the pipeline's settings."""
    return {}


@pytest.fixture
def prepare_container() -> Callable[[Container], None]:
    """Override in a test module to change the container (an adapter, say) before the
    workers start."""
    return lambda container: None


@pytest.fixture(params=SQL_STORES[:1])
def pipeline(
    request: pytest.FixtureRequest,
    mail_dns: DnsServer,
    settings_overrides: dict[str, Any],
    prepare_container: Callable[[Container], None],
) -> Iterator[Pipeline]:
    mail_dns.zone.txt.clear()
    mail_dns.zone.a.clear()
    mail_dns.zone.failing.clear()
    engine = clean_engine(request, request.param)
    container = Container(settings=providers.Object(_settings(mail_dns, **settings_overrides)))
    container.engine.override(providers.Object(engine))
    container.hasher.override(providers.Object(Argon2PasswordHasher(time_cost=1, memory_cost=1024)))
    prepare_container(container)
    with serving(container, mail_dns) as running:
        yield running


@contextmanager
def serving(container: Container, dns: DnsServer) -> Iterator[Pipeline]:
    """The SMTP worker and the delivery worker (with webhook health) over `container`, in
    this process, with a receiver on 127.0.0.1 as the target."""
    stop = threading.Event()
    with receiver() as target:
        registry = CollectorRegistry()
        worker = DeliveryWorker(
            container.uow,
            container.clock(),
            container.transport(),
            container.delivery_config(),
            poll_interval=0.05,
            listener=container.notifier().listen(JOBS),
            registry=registry,
            health=container.health(),
        )
        thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
        controller = smtp_controller(container, registry)
        controller.start()
        thread.start()
        try:
            yield Pipeline(container, dns, target, registry)
        finally:
            controller.stop()
            controller.handler.close()
            stop.set()
            thread.join(timeout=30)
