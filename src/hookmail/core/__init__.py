"""hookmail's domain: models, errors, ports (`typing.Protocol`s) and use cases
(`hookmail.core.services.*`). Imports no I/O library.

The names below load on first use, so that importing one module of the core (say
`hookmail.core.signing`, which `hookmail.webhooks` uses) loads nothing else.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = [
    "Accepted",
    "AccessTokens",
    "Account",
    "Address",
    "Attempt",
    "AuthResults",
    "Clock",
    "Conflict",
    "DeliveryConfig",
    "DeliveryJob",
    "DeliveryLog",
    "DeliveryStatus",
    "DkimResult",
    "DkimVerifier",
    "Domain",
    "DomainError",
    "DomainName",
    "EmailSyntax",
    "Envelope",
    "HttpOutcome",
    "InboundMessage",
    "InvalidField",
    "InvalidInput",
    "Mailer",
    "NotFound",
    "Page",
    "PasswordHasher",
    "PolicyInput",
    "PreconditionFailed",
    "RateLimited",
    "Receipt",
    "RefusalReason",
    "Refused",
    "SmtpPolicy",
    "SpfChecker",
    "SpfOutcome",
    "TxtResolver",
    "Unauthenticated",
    "UnitOfWork",
    "Webhook",
    "WebhookInput",
    "WebhookTransport",
]

_HOME = {
    "Account": "hookmail.core.accounts",
    "Domain": "hookmail.core.domains",
    "DomainName": "hookmail.core.domains",
    "Address": "hookmail.core.webhooks",
    "Webhook": "hookmail.core.webhooks",
    "SmtpPolicy": "hookmail.core.smtp_policies",
    "DeliveryLog": "hookmail.core.deliveries",
    "DeliveryStatus": "hookmail.core.deliveries",
    "Page": "hookmail.core.paging",
    "AuthResults": "hookmail.core.mail",
    "DeliveryJob": "hookmail.core.deliveries",
    "DkimResult": "hookmail.core.mail",
    "Envelope": "hookmail.core.mail",
    "InboundMessage": "hookmail.core.mail",
    "SpfOutcome": "hookmail.core.mail",
    "Conflict": "hookmail.core.errors",
    "DomainError": "hookmail.core.errors",
    "InvalidField": "hookmail.core.errors",
    "InvalidInput": "hookmail.core.errors",
    "NotFound": "hookmail.core.errors",
    "PreconditionFailed": "hookmail.core.errors",
    "RateLimited": "hookmail.core.errors",
    "Unauthenticated": "hookmail.core.errors",
    "AccessTokens": "hookmail.core.ports",
    "Clock": "hookmail.core.ports",
    "DkimVerifier": "hookmail.core.ports",
    "EmailSyntax": "hookmail.core.ports",
    "HttpOutcome": "hookmail.core.ports",
    "Mailer": "hookmail.core.ports",
    "PasswordHasher": "hookmail.core.ports",
    "SpfChecker": "hookmail.core.ports",
    "TxtResolver": "hookmail.core.ports",
    "UnitOfWork": "hookmail.core.ports",
    "WebhookTransport": "hookmail.core.ports",
    "Attempt": "hookmail.core.services.delivery",
    "DeliveryConfig": "hookmail.core.services.delivery",
    "Accepted": "hookmail.core.services.inbound",
    "Receipt": "hookmail.core.services.inbound",
    "RefusalReason": "hookmail.core.services.inbound",
    "Refused": "hookmail.core.services.inbound",
    "PolicyInput": "hookmail.core.services.smtp_policies",
    "WebhookInput": "hookmail.core.services.webhooks",
}

if TYPE_CHECKING:
    from hookmail.core.accounts import Account
    from hookmail.core.deliveries import DeliveryJob, DeliveryLog, DeliveryStatus
    from hookmail.core.domains import Domain, DomainName
    from hookmail.core.errors import (
        Conflict,
        DomainError,
        InvalidField,
        InvalidInput,
        NotFound,
        PreconditionFailed,
        RateLimited,
        Unauthenticated,
    )
    from hookmail.core.mail import AuthResults, DkimResult, Envelope, InboundMessage, SpfOutcome
    from hookmail.core.paging import Page
    from hookmail.core.ports import (
        AccessTokens,
        Clock,
        DkimVerifier,
        EmailSyntax,
        HttpOutcome,
        Mailer,
        PasswordHasher,
        SpfChecker,
        TxtResolver,
        UnitOfWork,
        WebhookTransport,
    )
    from hookmail.core.services.delivery import Attempt, DeliveryConfig
    from hookmail.core.services.inbound import Accepted, Receipt, RefusalReason, Refused
    from hookmail.core.services.smtp_policies import PolicyInput
    from hookmail.core.services.webhooks import WebhookInput
    from hookmail.core.smtp_policies import SmtpPolicy
    from hookmail.core.webhooks import Address, Webhook


def __getattr__(name: str) -> Any:
    if name in _HOME:
        return getattr(importlib.import_module(_HOME[name]), name)
    raise AttributeError(f"module 'hookmail.core' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
