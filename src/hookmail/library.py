"""`Hookmail`: hookmail embedded in another Python program, over the same core use cases as
the REST API, the SMTP worker and the delivery worker.

    hm = Hookmail.in_memory(public_domains=("inbound.example",))
    account = hm.sign_up("me@example.com", "correct horse battery")
    hm.create_webhook(account, address="orders@inbound.example", target_url="https://...")
    receipt = hm.receive(raw, mail_from="alice@example.org", rcpt_to=["orders@inbound.example"])
    sent = hm.deliver_due()
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from typing import Any, Self

from attrs import evolve, frozen

from hookmail.core.accounts import Account
from hookmail.core.deliveries import DeliveryLog
from hookmail.core.ports import (
    Clock,
    CredentialHasher,
    DkimVerifier,
    DmarcEvaluator,
    EmailSyntax,
    HttpOutcome,
    PasswordHasher,
    SpfChecker,
    UnitOfWork,
    WebhookTransport,
)
from hookmail.core.quotas import Quotas
from hookmail.core.services import (
    accounts,
    authentication,
    delivery,
    inbound,
    smtp_auth,
    smtp_policies,
    webhooks,
)
from hookmail.core.services.delivery import DeliveryConfig
from hookmail.core.services.domains import sync_public_domains
from hookmail.core.services.inbound import Receipt
from hookmail.core.services.smtp_policies import PolicyInput
from hookmail.core.services.webhook_health import HealthPolicy
from hookmail.core.services.webhooks import WebhookInput
from hookmail.core.smtp_policies import SmtpPolicy
from hookmail.core.throttle import Limits
from hookmail.core.webhooks import Webhook

__all__ = ["Hookmail", "Receipt", "Sent"]


@frozen
class Sent:
    """One POST of a delivery pass: what went out, and how the target answered."""

    url: str
    headers: dict[str, str]
    body: bytes
    http_status: int  # 0 when no answer came (timeout, refused connection, ...)
    log: DeliveryLog  # the row the webhook's delivery log got


class _Capturing:
    """Remembers the request of each POST it passes on, so a pass can say what it sent."""

    def __init__(self, transport: WebhookTransport) -> None:
        self._transport = transport
        self.requests: list[tuple[str, dict[str, str], bytes]] = []

    def post(
        self, url: str, *, headers: dict[str, str], body: bytes, timeout: float
    ) -> HttpOutcome:
        self.requests.append((url, dict(headers), body))
        return self._transport.post(url, headers=headers, body=body, timeout=timeout)


def _close_all(*closers: Callable[[], None]) -> None:
    for close in closers:
        close()


class Hookmail:
    """hookmail as a library. Build one with `in_memory()` (the fakes of
    `hookmail.adapters.memory`: for tests and harnesses) or `from_url()` (a real store)."""

    def __init__(
        self,
        *,
        uow: Callable[[], UnitOfWork],
        clock: Clock,
        hasher: PasswordHasher,
        credential_hasher: CredentialHasher,
        emails: EmailSyntax,
        spf: SpfChecker,
        dkim: DkimVerifier,
        transport: WebhookTransport,
        dmarc: DmarcEvaluator | None = None,
        limits: Limits | None = None,
        quotas: Quotas | None = None,
        delivery_config: DeliveryConfig | None = None,
        health: HealthPolicy | None = None,
        hostname: str = "localhost",
        public_domains: Iterable[str] = (),
        close: Callable[[], None] = lambda: None,
    ) -> None:
        self.uow = uow
        self.clock = clock
        self.transport = transport  # deliver_due's, unless it is given another
        self._hasher, self._emails, self._spf, self._dkim = hasher, emails, spf, dkim
        self._dmarc = dmarc or authentication.UNAVAILABLE  # none: require_dmarc refuses
        self._credential_hasher = credential_hasher
        self._limits = limits or Limits()
        self._quotas = quotas or Quotas()
        self._config = delivery_config or DeliveryConfig()
        self._health, self._hostname, self._close = health, hostname, close
        sync_public_domains(uow(), clock, names=tuple(public_domains))

    @classmethod
    def in_memory(
        cls,
        public_domains: Iterable[str] = (),
        clock: Clock | None = None,
        *,
        hostname: str = "localhost",
    ) -> Hookmail:
        """Everything in memory: the store, a recording transport (`.transport.posted`),
        stub SPF and DKIM, plain-text password "hashes". The clock is real time unless one
        is given (`FixedClock()` for tests that need time to stand still)."""
        from hookmail.adapters.clock import SystemClock
        from hookmail.adapters.memory import (
            InMemoryUnitOfWork,
            PermissiveEmailSyntax,
            PlainCredentialHasher,
            PlainPasswordHasher,
            RecordingTransport,
            StubDkim,
            StubDmarc,
            StubSpf,
        )

        store = InMemoryUnitOfWork()
        return cls(
            uow=lambda: store,
            clock=clock or SystemClock(),
            hasher=PlainPasswordHasher(),
            credential_hasher=PlainCredentialHasher(),
            emails=PermissiveEmailSyntax(),
            spf=StubSpf(),
            dkim=StubDkim(),
            dmarc=StubDmarc(),
            transport=RecordingTransport(),
            hostname=hostname,
            public_domains=public_domains,
        )

    @classmethod
    def from_url(
        cls,
        database_url: str,
        *,
        migrate: bool = True,
        public_domains: Iterable[str] = (),
        allow_private_targets: bool = False,
        hostname: str | None = None,
    ) -> Hookmail:
        """A real store (`sqlite:///path`, `postgresql+psycopg://…`), migrated first unless
        `migrate=False`, with the adapters `hookmail serve` uses: argon2 passwords, SPF and
        DKIM over DNS, HTTP delivery (to private addresses only if `allow_private_targets`).
        Wired by the same container as the servers."""
        from dependency_injector import providers

        from hookmail.adapters.sql.engine import migrate as migrate_store
        from hookmail.entrypoints.container import Container
        from hookmail.entrypoints.settings import Settings

        settings = Settings(
            database_url=database_url,
            public_domains=tuple(public_domains),
            allow_private_targets=allow_private_targets,
        )
        if hostname:
            settings = evolve(settings, smtp_hostname=hostname)
        container = Container(settings=providers.Object(settings))
        engine = container.engine()
        if migrate:
            migrate_store(engine)
        transport = container.transport()
        return cls(
            uow=container.uow,
            clock=container.clock(),
            hasher=container.hasher(),
            credential_hasher=container.credential_hasher(),
            emails=container.emails(),
            spf=container.spf(),
            dkim=container.dkim(),
            dmarc=container.dmarc(),
            transport=transport,
            limits=container.limits(),
            quotas=container.quotas(),
            delivery_config=container.delivery_config(),
            health=container.health(),
            hostname=settings.smtp_hostname,
            public_domains=settings.public_domains,
            close=lambda: _close_all(transport.close, engine.dispose),
        )

    def close(self) -> None:
        """Release the store's connections and the transport's idle ones."""
        self._close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- accounts and webhooks: the API's use cases --------------------------------------

    def sign_up(self, email: str, password: str) -> Account:
        return accounts.sign_up(
            self.uow(),
            self.clock,
            self._hasher,
            self._emails,
            self._limits,
            email=email,
            password=password,
            client="library",
        )

    def create_webhook(self, account: Account, **fields: Any) -> Webhook:
        """A webhook with the API's fields (`address`, `target_url`, `secret`,
        `custom_headers`, `payload_template`, `rate_limit`, `active`,
        `smtp_security_policy_id`); the address must be on a verified domain of the
        account or a public domain."""
        return webhooks.create_webhook(
            self.uow(),
            self.clock,
            self._quotas,
            account_id=account.id,
            given=WebhookInput(**fields),
        )

    def create_policy(self, account: Account, **fields: Any) -> SmtpPolicy:
        """An SMTP security policy with the API's fields (`name`, `allowed_source_ips`, …)."""
        return smtp_policies.create_policy(
            self.uow(),
            self.clock,
            self._credential_hasher,
            self._quotas,
            account_id=account.id,
            given=PolicyInput(**fields),
        )

    # -- mail in, webhooks out -----------------------------------------------------------

    def receive(
        self,
        raw: bytes | str,
        *,
        mail_from: str,
        rcpt_to: Collection[str] | str,
        remote_ip: str = "127.0.0.1",
        helo: str = "localhost",
        smtp_user: str | None = None,
        smtp_password: str | None = None,
    ) -> Receipt:
        """The whole inbound path without SMTP: routing, each webhook's security policy, the
        `Received` header, the durable store. `smtp_user`/`smtp_password` stand for an SMTP
        AUTH login (policies that require it), checked as SMTP AUTH checks it, failure limits
        included. The receipt says which recipients were accepted, and which refused and why
        (`receipt.refused[address].reason`)."""
        authenticated: set[Any] = set()
        if smtp_user is not None and smtp_password is not None:
            login = smtp_auth.authenticate(
                self.uow(),
                self.clock,
                self._credential_hasher,
                self._limits.failures,
                user=smtp_user,
                password=smtp_password,
                client=remote_ip,
            )
            if isinstance(login, smtp_auth.LoggedIn):
                authenticated = set(login.policies)
        return inbound.receive(
            self.uow(),
            self.clock,
            self._spf,
            self._dkim,
            raw=raw.encode("utf-8") if isinstance(raw, str) else raw,
            mail_from=mail_from,
            rcpt_to=(rcpt_to,) if isinstance(rcpt_to, str) else tuple(rcpt_to),
            remote_ip=remote_ip,
            helo=helo,
            hostname=self._hostname,
            smtp_user=smtp_user if authenticated else None,
            authenticated_policies=authenticated,
            dmarc=self._dmarc,
        )

    def deliver_due(self, transport: WebhookTransport | None = None) -> list[Sent]:
        """One delivery pass: every job due now is attempted once (rate limits held) and
        logged; returns what was sent. Failed attempts are scheduled for later passes."""
        capturing = _Capturing(transport or self.transport)
        attempts = delivery.deliver_due(
            self.uow(), self.clock, capturing, self._config, health=self._health
        )
        requests = {
            headers.get("webhook-id"): (url, headers, body)
            for url, headers, body in capturing.requests
        }
        return [
            Sent(*requests[done.job.event_id], done.log.http_status, done.log)
            for done in attempts
            if done.job.event_id in requests  # one that could not even be built sent nothing
        ]
