"""Wiring: the only place that names adapters."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import timedelta
from urllib.parse import urlsplit

from dependency_injector import containers, providers

from hookmail import __version__
from hookmail.adapters.access_tokens import JwtAccessTokens
from hookmail.adapters.background import ThreadBackground
from hookmail.adapters.clock import SystemClock
from hookmail.adapters.dmarc import DmarcLibEvaluator
from hookmail.adapters.dns import DnspythonResolver
from hookmail.adapters.emails import EmailValidatorSyntax
from hookmail.adapters.http import PinnedHttpTransport
from hookmail.adapters.mailauth import DkimpyVerifier, PyspfChecker
from hookmail.adapters.mailer import LogMailer, SmtpMailer
from hookmail.adapters.notify import notifier_for
from hookmail.adapters.passwords import Argon2PasswordHasher, KeyedArgon2CredentialHasher
from hookmail.adapters.sql.engine import make_engine, make_sessions
from hookmail.adapters.sql.uow import SqlUnitOfWork
from hookmail.core.formats import AttachmentLinks
from hookmail.core.ports import Mailer, UnitOfWork
from hookmail.core.quotas import Quotas
from hookmail.core.services.delivery import DeliveryConfig
from hookmail.core.services.keys import attachment_url_key, shared_secret_key, smtp_credential_key
from hookmail.core.services.retention import RetentionPolicy
from hookmail.core.services.webhook_health import HealthPolicy
from hookmail.core.throttle import Limit, Limits
from hookmail.entrypoints.settings import Settings


def limits_from(settings: Settings) -> Limits:
    return Limits(
        failures=Limit(
            settings.login_max_failures, timedelta(seconds=settings.login_window_seconds)
        ),
        signups=Limit(settings.signups_per_hour, timedelta(hours=1)),
        reset_requests=Limit(settings.reset_requests_per_hour, timedelta(hours=1)),
    )


def quotas_from(settings: Settings) -> Quotas:
    return Quotas(
        webhooks=settings.max_webhooks,
        domains=settings.max_domains,
        policies=settings.max_policies,
    )


def mailer_from(settings: Settings) -> Mailer:
    if settings.mail_relay == "log":
        return LogMailer()
    relay = urlsplit(settings.mail_relay)
    sender = f"hookmail@{settings.smtp_hostname}"
    return SmtpMailer(relay.hostname or "localhost", relay.port or 25, sender=sender)


def attachment_links_from(settings: Settings, uow: Callable[[], UnitOfWork]) -> AttachmentLinks:
    """Attachment URLs: signed with the key kept in the store, so every process agrees. The
    key is read on first use (then kept): a worker starts, and answers 451, on a store it
    can't reach yet."""
    return AttachmentLinks(
        key=functools.cache(lambda: attachment_url_key(uow())),
        public_url=settings.public_url,
        ttl=timedelta(seconds=settings.attachment_url_ttl),
    )


def delivery_config_from(settings: Settings, links: AttachmentLinks) -> DeliveryConfig:
    return DeliveryConfig(
        retry_schedule=settings.retry_schedule,
        timeout=settings.delivery_timeout,
        user_agent=f"hookmail/{__version__}",
        attachment_links=links,
    )


def retention_from(settings: Settings, limits: Limits) -> RetentionPolicy:
    return RetentionPolicy(
        keep=timedelta(seconds=settings.retention_seconds), counters=limits.longest
    )


def health_from(settings: Settings, mailer: Mailer) -> HealthPolicy:
    return HealthPolicy(
        disable_after=timedelta(seconds=settings.disable_after),
        mailer=mailer,
        public_url=settings.public_url,
    )


def access_tokens_from(settings: Settings, uow: UnitOfWork) -> JwtAccessTokens:
    """HOOKMAIL_SECRET_KEY, or the key made once and kept in the store for every worker."""
    key = settings.secret_key or shared_secret_key(uow)
    return JwtAccessTokens([key])


def credential_hasher_from(
    hasher: Argon2PasswordHasher, uow: Callable[[], UnitOfWork]
) -> KeyedArgon2CredentialHasher:
    """SMTP credentials: the password hasher's cost, salts derived from a key in the store
    (read on first use, so a process may start before the store is migrated)."""
    return hasher.keyed(lambda: smtp_credential_key(uow()))


class Container(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)
    engine = providers.Singleton(make_engine, settings.provided.database_url)
    sessions = providers.Singleton(make_sessions, engine)
    notifier = providers.Singleton(notifier_for, engine)
    uow = providers.Factory(SqlUnitOfWork, sessions, notifier)
    clock = providers.Singleton(SystemClock)
    hasher = providers.Singleton(Argon2PasswordHasher)
    credential_hasher = providers.Singleton(credential_hasher_from, hasher, uow.provider)
    emails = providers.Singleton(EmailValidatorSyntax)
    mailer = providers.Singleton(mailer_from, settings)
    background = providers.Singleton(ThreadBackground)
    limits = providers.Singleton(limits_from, settings)
    quotas = providers.Singleton(quotas_from, settings)
    dns = providers.Singleton(DnspythonResolver, settings.provided.dns_nameservers)
    spf = providers.Singleton(PyspfChecker, dns)
    dkim = providers.Singleton(DkimpyVerifier, dns)
    dmarc = providers.Singleton(DmarcLibEvaluator, dns)
    transport = providers.Singleton(
        PinnedHttpTransport, allow_private=settings.provided.allow_private_targets
    )
    attachment_links = providers.Singleton(attachment_links_from, settings, uow.provider)
    delivery_config = providers.Singleton(delivery_config_from, settings, attachment_links)
    health = providers.Singleton(health_from, settings, mailer)
    retention = providers.Singleton(retention_from, settings, limits)
    access_tokens = providers.Singleton(access_tokens_from, settings, uow)
