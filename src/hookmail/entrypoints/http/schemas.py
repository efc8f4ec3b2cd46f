"""Request bodies and response views, and the cattrs converter between them and JSON."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal, TypeVar
from uuid import UUID

import cattrs
from attrs import field, frozen
from cattrs.preconf.json import make_converter

from hookmail.core.accounts import Account
from hookmail.core.deliveries import DeliveryLog, DeliveryStatus, JobStatus
from hookmail.core.domains import Domain
from hookmail.core.messages import AccountMessage, MessageStatus
from hookmail.core.paging import MAX_PAGE_SIZE
from hookmail.core.services.sessions import Session, TotpChallenge
from hookmail.core.services.smtp_policies import PolicyInput
from hookmail.core.services.webhooks import WebhookInput
from hookmail.core.smtp_policies import SmtpPolicy, format_credentials, format_networks
from hookmail.core.webhooks import (
    FAILING,
    MAX_ATTACHMENT_URL_THRESHOLD,
    MAX_HEADERS,
    MAX_RATE_LIMIT,
    DeliveryMode,
    PayloadFormat,
    Webhook,
)

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


def unstructure(view: object) -> Any:
    return codec.unstructure(view)


# -- request bodies, named after the API's components -------------------------------------


@frozen
class CreateAccountRequest:
    email: str
    password: str


@frozen
class CreateSessionRequest:
    email: str
    password: str


@frozen
class ChangePasswordRequest:
    current_password: str
    new_password: str


@frozen
class UpdateTimezoneRequest:
    timezone: str


@frozen
class RequestPasswordResetRequest:
    email: str


@frozen
class ConfirmPasswordResetRequest:
    token: str
    new_password: str


@frozen
class DeleteAccountRequest:
    password: str
    code: str | None = None


@frozen
class TOTPCodeRequest:
    code: str


@frozen
class EnableTOTPRequest:
    code: str


@frozen
class CompleteTOTPRequest:
    totp_token: str
    code: str


@frozen
class RefreshSessionRequest:
    refresh_token: str


@frozen
class DeleteSessionRequest:
    refresh_token: str


@frozen
class CreateDomainRequest:
    name: str


@frozen(kw_only=True)
class CreateSmtpSecurityPolicyRequest(PolicyInput):
    name: str


@frozen(kw_only=True)
class UpdateSmtpSecurityPolicyRequest(PolicyInput):
    """Only the fields given change."""


@frozen(kw_only=True)
class _WebhookFields(WebhookInput):
    custom_headers: dict[str, str] | None = field(
        default=None, metadata={"schema": {"maxProperties": MAX_HEADERS}}
    )
    rate_limit: int | None = field(
        default=None, metadata={"schema": {"minimum": 0, "maximum": MAX_RATE_LIMIT}}
    )
    delivery_mode: str | None = field(
        default=None, metadata={"schema": {"enum": [*(m.value for m in DeliveryMode), None]}}
    )
    attachment_url_threshold: int | None = field(
        default=None,
        metadata={"schema": {"minimum": 0, "maximum": MAX_ATTACHMENT_URL_THRESHOLD}},
    )


@frozen(kw_only=True)
class CreateWebhookRequest(_WebhookFields):
    address: str
    target_url: str


@frozen(kw_only=True)
class UpdateWebhookRequest(_WebhookFields):
    """Only the fields given change; `clear_security_policy: true` detaches the policy;
    `attachment_url_threshold: null` (or `clear_attachment_url_threshold: true`) sends every
    attachment inline again."""


@frozen
class PageQuery:
    page: int | None = field(
        default=None, metadata={"doc": "Page number (1-based)", "schema": {"minimum": 1}}
    )
    page_size: int | None = field(
        default=None,
        metadata={
            "doc": "Number of results per page",
            "schema": {"minimum": 1, "maximum": MAX_PAGE_SIZE},
        },
    )


# -- responses: every field always present (no defaults), so every field is required ----


@frozen
class Error:
    """Every failure: a stable snake_case code and a sentence."""

    code: str
    error: str


@frozen
class AccountResponse:
    id: UUID
    email: str
    timezone: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, account: Account) -> AccountResponse:
        return cls(
            id=account.id,
            email=account.email,
            timezone=account.timezone,
            created_at=account.created_at,
            updated_at=account.updated_at,
        )


@frozen
class DomainResponse:
    id: UUID
    account_id: UUID | None
    name: str
    verification_token: str
    verified: bool
    is_public: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, domain: Domain) -> DomainResponse:
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
class SmtpSecurityPolicyResponse:
    id: UUID
    name: str
    require_smtp_auth: bool
    smtp_credentials: str
    allowed_source_ips: str
    require_spf: bool
    allowed_spf_domains: str
    require_dkim: bool
    allowed_dkim_domains: str
    require_dmarc: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, policy: SmtpPolicy) -> SmtpSecurityPolicyResponse:
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
            require_dmarc=policy.require_dmarc,
            created_at=policy.created_at,
            updated_at=policy.updated_at,
        )


@frozen
class WebhookResponse:
    id: UUID
    address: str
    target_url: str
    secret: str
    custom_headers: dict[str, str]
    payload_template: str | None
    payload_format: PayloadFormat
    attachment_url_threshold: int | None
    rate_limit: int
    active: bool
    smtp_security_policy_id: UUID | None
    delivery_mode: DeliveryMode
    failing_since: datetime | None  # first failed attempt after the last success
    # "failing" when hookmail disabled it (§6.3); null when healthy or paused by its owner
    disabled_reason: str | None = field(metadata={"schema": {"enum": [FAILING, None]}})
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, webhook: Webhook) -> WebhookResponse:
        return cls(
            id=webhook.id,
            address=str(webhook.address),
            target_url=webhook.target_url,
            secret=webhook.secret,
            custom_headers=webhook.custom_headers,
            payload_template=webhook.payload_template,
            payload_format=webhook.payload_format,
            attachment_url_threshold=webhook.attachment_url_threshold,
            rate_limit=webhook.rate_limit,
            active=webhook.active,
            smtp_security_policy_id=webhook.smtp_security_policy_id,
            delivery_mode=webhook.delivery_mode,
            failing_since=webhook.failing_since,
            disabled_reason=webhook.disabled_reason,
            created_at=webhook.created_at,
            updated_at=webhook.updated_at,
        )


@frozen
class DeliveryLogResponse:
    id: UUID
    webhook_id: UUID
    attempted_at: datetime
    duration_ms: int
    http_status: int
    error: str | None
    sender: str
    smtp_message_id: str
    attempt: int
    status: DeliveryStatus
    next_attempt_at: datetime | None

    @classmethod
    def of(cls, log: DeliveryLog) -> DeliveryLogResponse:
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
            status=log.status,
            next_attempt_at=log.next_attempt_at,
        )


@frozen
class SessionResponse:
    access_token: str
    refresh_token: str
    expires_in: int
    token_type: Literal["Bearer"]

    @classmethod
    def of(cls, session: Session) -> SessionResponse:
        return cls(session.access_token, session.refresh_token, session.expires_in, "Bearer")


@frozen
class TOTPChallengeResponse:
    totp_required: Literal[True]
    totp_token: str
    expires_in: int

    @classmethod
    def of(cls, challenge: TotpChallenge) -> TOTPChallengeResponse:
        return cls(True, challenge.token, challenge.expires_in)


@frozen
class SetupTOTPResponse:
    secret: str
    otpauth_url: str
    qr_code_png: str  # base64 of a PNG whose QR code encodes otpauth_url


@frozen
class BackupCodesResponse:
    backup_codes: list[str]


# -- messages and replay (SPEC §6.1, §6.2) ---------------------------------------------


@frozen
class MessageQuery:
    page: int | None = field(
        default=None, metadata={"doc": "Page number (1-based)", "schema": {"minimum": 1}}
    )
    page_size: int | None = field(
        default=None,
        metadata={
            "doc": "Number of results per page",
            "schema": {"minimum": 1, "maximum": MAX_PAGE_SIZE},
        },
    )
    status: str | None = field(
        default=None,
        metadata={
            "doc": "Only messages with this status",
            "schema": {"enum": [s.value for s in MessageStatus]},
        },
    )
    webhook_id: str | None = field(
        default=None,
        metadata={"doc": "Only messages delivered to this webhook", "schema": {"format": "uuid"}},
    )


@frozen
class MessageDeliveryResponse:
    """One of the account's deliveries of the message; `event_id` is its `webhook-id`."""

    webhook_id: UUID
    event_id: str
    status: JobStatus
    attempts: int
    next_attempt_at: datetime | None


@frozen
class MessageResponse:
    """A received message as the account sees it: its own recipients and deliveries only."""

    id: UUID
    received_at: datetime
    mail_from: str
    rcpt_to: list[str]
    message_id: str
    subject: str
    size: int
    status: MessageStatus
    deliveries: list[MessageDeliveryResponse]

    @classmethod
    def of(cls, message: AccountMessage) -> MessageResponse:
        summary = message.summary
        return cls(
            id=summary.id,
            received_at=summary.received_at,
            mail_from=summary.mail_from,
            rcpt_to=message.rcpt_to,
            message_id=summary.message_id,
            subject=summary.subject,
            size=summary.size,
            status=message.status,
            deliveries=[
                MessageDeliveryResponse(
                    webhook_id=d.webhook_id,
                    event_id=d.event_id,
                    status=d.status,
                    attempts=d.attempts,
                    next_attempt_at=d.next_attempt_at if d.status is JobStatus.PENDING else None,
                )
                for d in message.deliveries
            ],
        )


@frozen
class ReplayMessageRequest:
    """Optional: only the delivery to this webhook."""

    webhook_id: UUID | None = None


@frozen
class ReplayWebhookRequest:
    """The deliveries whose message was received in [since, until]; `until` defaults to now,
    `status` to `failed`."""

    since: str = field(metadata={"schema": {"format": "date-time"}})
    until: str | None = field(default=None, metadata={"schema": {"format": "date-time"}})
    status: str | None = field(default=None, metadata={"schema": {"enum": ["failed", "all", None]}})


@frozen
class ReplayResponse:
    replayed: int
