"""Request bodies and response views, and the cattrs converter between them and JSON."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TypeVar
from uuid import UUID

import cattrs
from attrs import frozen
from cattrs.preconf.json import make_converter

from hookmail.core.accounts import Account
from hookmail.core.deliveries import DeliveryLog
from hookmail.core.domains import Domain
from hookmail.core.smtp_policies import SmtpPolicy, format_credentials, format_networks
from hookmail.core.webhooks import Webhook

T = TypeVar("T")

codec = make_converter(forbid_extra_keys=False)


def _strict(kind: type[Any]) -> None:
    """No coercion: `"password": 123` is a 422, not the string "123"."""

    def structure(value: object, _: type[Any]) -> object:
        if type(value) is not kind:
            raise TypeError(f"expected {kind.__name__}, got {type(value).__name__}")
        return value

    codec.register_structure_hook(kind, structure)


for _kind in (str, bool, int):
    _strict(_kind)


def _uuid(value: object, _: type[Any]) -> UUID:
    if type(value) is not str:
        raise TypeError(f"expected a UUID string, got {type(value).__name__}")
    return UUID(value)


codec.register_structure_hook(UUID, _uuid)

codec.register_unstructure_hook(UUID, str)
codec.register_unstructure_hook(
    datetime, lambda value: value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
)


def structure(data: object, cls: type[T]) -> T:
    """`data` as a `cls`, or cattrs' ClassValidationError (mapped to 422 naming the field)."""
    if not isinstance(data, dict):
        raise cattrs.errors.ClassValidationError(
            "the request body must be a JSON object", [TypeError("expected a JSON object")], cls
        )
    return codec.structure(data, cls)


# -- bodies -----------------------------------------------------------------------------


@frozen
class EmailPasswordBody:
    email: str
    password: str


@frozen
class ChangePasswordBody:
    current_password: str
    new_password: str


@frozen
class TimezoneBody:
    timezone: str


@frozen
class EmailBody:
    email: str


@frozen
class ConfirmResetBody:
    token: str
    new_password: str


@frozen
class DeleteAccountBody:
    password: str
    code: str | None = None


@frozen
class CodeBody:
    code: str


@frozen
class CompleteTotpBody:
    totp_token: str
    code: str


@frozen
class RefreshBody:
    refresh_token: str


@frozen
class DomainBody:
    name: str


# -- views ------------------------------------------------------------------------------


@frozen
class AccountView:
    id: UUID
    email: str
    timezone: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, account: Account) -> AccountView:
        return cls(
            id=account.id,
            email=account.email,
            timezone=account.timezone,
            created_at=account.created_at,
            updated_at=account.updated_at,
        )


def unstructure(view: object) -> Any:
    return codec.unstructure(view)


@frozen
class DomainView:
    id: UUID
    account_id: UUID | None
    name: str
    verification_token: str
    verified: bool
    is_public: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, domain: Domain) -> DomainView:
        return cls(
            id=domain.id,
            account_id=domain.account_id,
            name=domain.name.value,
            verification_token=domain.verification_token,
            verified=domain.verified,
            is_public=domain.is_public,
            created_at=domain.created_at,
            updated_at=domain.updated_at,
        )


@frozen
class PolicyView:
    id: UUID
    name: str
    require_smtp_auth: bool
    smtp_credentials: str
    allowed_source_ips: str
    require_spf: bool
    allowed_spf_domains: str
    require_dkim: bool
    allowed_dkim_domains: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, policy: SmtpPolicy) -> PolicyView:
        return cls(
            id=policy.id,
            name=policy.name,
            require_smtp_auth=policy.require_smtp_auth,
            smtp_credentials=format_credentials(policy.smtp_credentials),  # masked, always
            allowed_source_ips=format_networks(policy.allowed_source_ips),
            require_spf=policy.require_spf,
            allowed_spf_domains=",".join(d.value for d in policy.allowed_spf_domains),
            require_dkim=policy.require_dkim,
            allowed_dkim_domains=",".join(d.value for d in policy.allowed_dkim_domains),
            created_at=policy.created_at,
            updated_at=policy.updated_at,
        )


@frozen
class WebhookView:
    id: UUID
    address: str
    target_url: str
    secret: str
    custom_headers: dict[str, str]
    payload_template: str | None
    rate_limit: int
    active: bool
    smtp_security_policy_id: UUID | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, webhook: Webhook) -> WebhookView:
        return cls(
            id=webhook.id,
            address=str(webhook.address),
            target_url=webhook.target_url,
            secret=webhook.secret,
            custom_headers=webhook.custom_headers,
            payload_template=webhook.payload_template,
            rate_limit=webhook.rate_limit,
            active=webhook.active,
            smtp_security_policy_id=webhook.smtp_security_policy_id,
            created_at=webhook.created_at,
            updated_at=webhook.updated_at,
        )


@frozen
class DeliveryLogView:
    id: UUID
    webhook_id: UUID
    attempted_at: datetime
    duration_ms: int
    http_status: int
    error: str | None
    sender: str
    smtp_message_id: str
    attempt: int
    status: str
    next_attempt_at: datetime | None

    @classmethod
    def of(cls, log: DeliveryLog) -> DeliveryLogView:
        return cls(
            id=log.id,
            webhook_id=log.webhook_id,
            attempted_at=log.attempted_at,
            duration_ms=log.duration_ms,
            http_status=log.http_status,
            error=log.error,
            sender=log.sender,
            smtp_message_id=log.smtp_message_id,
            attempt=log.attempt,
            status=log.status.value,
            next_attempt_at=log.next_attempt_at,
        )
