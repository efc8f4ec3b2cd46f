"""The dashboard in a real browser: Debian's Chromium driven by Playwright, against the app
served on 127.0.0.1 with a real store, SMTP worker, delivery worker, DNS server and
receiver. One browser and one stack per run (fast); a fresh browser context per test."""

from __future__ import annotations

import ipaddress
import os
import re
import socketserver
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from dependency_injector import providers
from prometheus_client import CollectorRegistry

from hookmail.adapters.memory import RecordingMailer
from hookmail.adapters.passwords import Argon2PasswordHasher
from hookmail.adapters.sql.engine import make_engine, migrate
from hookmail.entrypoints.container import Container
from hookmail.entrypoints.deliver import DeliveryWorker
from hookmail.entrypoints.http.app import create_app
from hookmail.entrypoints.settings import Settings
from hookmail.entrypoints.smtp.server import smtp_controller
from tests.dns_server import DnsServer, dns_server
from tests.integration.mail.conftest import free_port
from tests.receiver import Receiver, receiver


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test here runs the whole app over sockets: e2e and integration (so
    `make test-fast` leaves them out)."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.path).parents:
            item.add_marker(pytest.mark.e2e)
            item.add_marker(pytest.mark.integration)


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "correct horse battery"
PUBLIC_DOMAIN = "inbound.hookmail.test"
SCREENSHOTS = os.environ.get("HOOKMAIL_SCREENSHOTS")


def _no_browser_reason() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[dev]')"
    if not CHROMIUM.exists():
        return f"no Chromium at {CHROMIUM} (`make browser` installs Debian's, as root)"
    return None


class _ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args: Any) -> None:
        return None


class Stack:
    """The running hookmail: its URL, the store's container, the DNS zone, the receiver."""

    def __init__(
        self,
        url: str,
        container: Container,
        dns: DnsServer,
        target: Receiver,
        smtp_port: int,
        mailer: RecordingMailer,
    ) -> None:
        self.mailer = mailer  # what hookmail mails (password reset links)
        self.url = url
        self.container = container
        self.dns = dns
        self.target = target
        self.smtp_port = smtp_port


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    folder = tmp_path_factory.mktemp("dashboard")
    engine = make_engine(f"sqlite:///{folder / 'hookmail.db'}")
    migrate(engine)
    with dns_server() as dns, receiver() as target:
        smtp_port = free_port()
        settings = Settings(
            smtp_port=smtp_port,
            smtp_hostname="mx.hookmail.test",
            smtp_auth_require_tls=False,
            dns_nameservers=dns.nameservers,
            allow_private_targets=True,
            retry_schedule=(0, 0, 0),
            delivery_timeout=2.0,
            public_domains=(PUBLIC_DOMAIN,),
            signups_per_hour=10_000,  # every test signs up from 127.0.0.1
            trusted_proxies=(_loopback(),),  # the rate-limit test poses as another client
        )
        container = Container(settings=providers.Object(settings))
        container.engine.override(providers.Object(engine))
        container.hasher.override(
            providers.Object(Argon2PasswordHasher(time_cost=1, memory_cost=1024))
        )
        mailer = RecordingMailer()
        container.mailer.override(providers.Object(mailer))
        server = make_server(
            "127.0.0.1",
            0,
            create_app(container),
            server_class=_ThreadingServer,
            handler_class=_QuietHandler,
        )
        registry = CollectorRegistry()
        worker = DeliveryWorker(
            container.uow,
            container.clock(),
            container.transport(),
            container.delivery_config(),
            poll_interval=0.05,
            registry=registry,
        )
        stop = threading.Event()
        threads = [
            threading.Thread(target=server.serve_forever, daemon=True),
            threading.Thread(target=worker.run, args=(stop,), daemon=True),
        ]
        smtp = smtp_controller(container, registry)
        smtp.start()
        for thread in threads:
            thread.start()
        try:
            url = f"http://127.0.0.1:{server.server_port}"
            yield Stack(url, container, dns, target, smtp_port, mailer)
        finally:
            smtp.stop()
            smtp.handler.close()
            stop.set()
            server.shutdown()
            server.server_close()
            for thread in threads:
                thread.join(timeout=30)
    engine.dispose()


def _loopback() -> ipaddress.IPv4Network:
    return ipaddress.IPv4Network("127.0.0.1/32")


@pytest.fixture(scope="session")
def browser(stack: Stack) -> Iterator[Any]:
    """One headless Chromium for the whole run; expectations wait up to 15 s (a loaded
    machine), never a fixed time."""
    reason = _no_browser_reason()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=15_000)

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


class Visit:
    """A browser context (its own cookies) and page, recording every request it makes."""

    def __init__(self, stack: Stack, context: Any) -> None:
        self.stack = stack
        self.context = context
        self.page = context.new_page()
        self.requests: list[str] = []
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.set_default_timeout(15_000)

    def go(self, path: str) -> Any:
        self.page.goto(self.stack.url + path)
        return self.page

    def sign_up(self, email: str, password: str = PASSWORD) -> None:
        page = self.go("/signup")
        page.get_by_label("Email", exact=True).fill(email)
        page.get_by_label("Password", exact=True).fill(password)
        page.get_by_role("button", name="Sign up").click()
        page.wait_for_url(re.compile(r"/signin"))

    def sign_in(self, email: str, password: str = PASSWORD) -> None:
        page = self.go("/signin")
        page.get_by_label("Email", exact=True).fill(email)
        page.get_by_label("Password", exact=True).fill(password)
        page.get_by_role("button", name="Sign in").click()

    def new_account(self) -> str:
        """Sign up and in with a fresh address; the address."""
        email = f"user-{uuid.uuid4().hex[:10]}@example.com"
        self.sign_up(email)
        self.sign_in(email)
        self.page.get_by_role("heading", name="Overview").wait_for()
        return email

    def shot(self, name: str) -> None:
        """Save a screenshot for docs/dashboard.md when HOOKMAIL_SCREENSHOTS names a folder."""
        if SCREENSHOTS:
            Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"), full_page=True)

    def session_cookie(self) -> str:
        cookies = self.context.cookies()
        return str(next(c["value"] for c in cookies if c["name"] == "hookmail_session"))


@pytest.fixture
def visit(browser: Any, stack: Stack) -> Iterator[Visit]:
    """A fresh browser context; at the end, no request of any page left 127.0.0.1."""
    context = browser.new_context(viewport={"width": 1024, "height": 768})
    try:
        current = Visit(stack, context)
        yield current
        hosts = {urlsplit(url).hostname for url in current.requests}
        assert hosts <= {"127.0.0.1"}, f"a page loaded something from elsewhere: {hosts}"
    finally:
        context.close()


@pytest.fixture
def second_visit(browser: Any, stack: Stack) -> Iterator[Visit]:
    """Another browser (its own cookies), for sessions that must end elsewhere."""
    context = browser.new_context()
    try:
        current = Visit(stack, context)
        yield current
        hosts = {urlsplit(url).hostname for url in current.requests}
        assert hosts <= {"127.0.0.1"}, f"a page loaded something from elsewhere: {hosts}"
    finally:
        context.close()
