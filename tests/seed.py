"""Set a store up through the use cases: an account with webhooks on a public domain."""

from __future__ import annotations

import smtplib
from collections.abc import Callable

from dependency_injector import providers

from hookmail.core.ports import UnitOfWork
from hookmail.core.quotas import Quotas
from hookmail.core.services import accounts, domains, webhooks
from hookmail.core.services.webhooks import WebhookInput
from hookmail.core.webhooks import Webhook
from hookmail.entrypoints.container import Container
from hookmail.entrypoints.settings import Settings
from tests.receiver import wait_for

PUBLIC = "inbound.hookmail.test"


def public_webhooks(
    uow: Callable[[], UnitOfWork], *hooks: WebhookInput, domain: str = PUBLIC
) -> list[Webhook]:
    """Make `domain` public, open an account, and create `hooks` (addresses on `domain`)."""
    container = Container(settings=providers.Object(Settings(smtp_hostname="mx.test")))
    clock = container.clock()
    domains.sync_public_domains(uow(), clock, names=[domain])
    account = accounts.sign_up(
        uow(),
        clock,
        container.hasher(),
        container.emails(),
        container.limits(),
        email="owner@example.com",
        password="correct horse battery",
        client="seed",
    )
    return [
        webhooks.create_webhook(uow(), clock, Quotas(), account_id=account.id, given=h)
        for h in hooks
    ]


def wait_smtp(port: int) -> None:
    """Until an SMTP server answers NOOP on 127.0.0.1:`port`."""

    def up() -> bool:
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=1) as client:
                return client.noop()[0] == 250
        except OSError:
            return False

    wait_for(up, timeout=30, what=f"SMTP on port {port}")
