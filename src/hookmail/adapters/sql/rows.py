"""ORM rows, apart from the frozen domain models (which can't be instrumented)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    Uuid,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from hookmail.adapters.sql.types import UtcDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UtcDateTime(), UUID: Uuid()}  # noqa: RUF012


class AccountRow(Base):
    __tablename__ = "accounts"

    id: Mapped[UUID] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    timezone: Mapped[str] = mapped_column(String(64))
    token_version: Mapped[int] = mapped_column(BigInteger)
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enabled: Mapped[bool]
    totp_last_counter: Mapped[int] = mapped_column(BigInteger)
    backup_code_hashes: Mapped[str] = mapped_column(Text)  # space-separated SHA-256 digests
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class IssuedTokenRow(Base):
    __tablename__ = "issued_tokens"

    id: Mapped[UUID] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    account_id: Mapped[UUID] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    family_id: Mapped[UUID] = mapped_column(index=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_issued_tokens_account_kind", "account_id", "kind"),
        Index("ix_issued_tokens_expires_at", "expires_at"),  # retention prunes by expiry
    )


class WebSessionRow(Base):
    __tablename__ = "web_sessions"

    id: Mapped[UUID] = mapped_column(primary_key=True)
    account_id: Mapped[UUID] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token_version: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)


class AttemptRow(Base):
    __tablename__ = "attempts"

    # SQLite autoincrements only an INTEGER primary key
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    key: Mapped[str] = mapped_column(String(400))
    at: Mapped[datetime]

    __table_args__ = (Index("ix_attempts_key_at", "key", "at"),)


class ConfigRow(Base):
    __tablename__ = "config"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class DomainRow(Base):
    __tablename__ = "domains"

    id: Mapped[UUID] = mapped_column(primary_key=True)
    account_id: Mapped[UUID | None] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(253))
    verification_token: Mapped[str] = mapped_column(String(64))
    verified: Mapped[bool]
    is_public: Mapped[bool]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    __table_args__ = (
        # several accounts may claim a name; only one row of a name may be verified
        Index(
            "uq_domains_verified_name",
            "name",
            unique=True,
            sqlite_where=text("verified"),
            postgresql_where=text("verified"),
        ),
        Index("uq_domains_account_name", "account_id", "name", unique=True),
    )


class PolicyRow(Base):
    __tablename__ = "smtp_policies"

    id: Mapped[UUID] = mapped_column(primary_key=True)
    account_id: Mapped[UUID] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    require_smtp_auth: Mapped[bool]
    allowed_source_ips: Mapped[str] = mapped_column(Text)
    require_spf: Mapped[bool]
    allowed_spf_domains: Mapped[str] = mapped_column(Text)
    require_dkim: Mapped[bool]
    allowed_dkim_domains: Mapped[str] = mapped_column(Text)
    require_dmarc: Mapped[bool]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class CredentialRow(Base):
    """One `user:password` pair of a policy; SMTP AUTH finds logins by (username, hash)."""

    __tablename__ = "smtp_credentials"

    policy_id: Mapped[UUID] = mapped_column(
        ForeignKey("smtp_policies.id", ondelete="CASCADE"), primary_key=True
    )
    username: Mapped[str] = mapped_column(String(255), primary_key=True)
    position: Mapped[int]  # the order the pairs were given in
    password_hash: Mapped[str] = mapped_column(String(255))

    __table_args__ = (Index("ix_smtp_credentials_username", "username"),)


class WebhookRow(Base):
    __tablename__ = "webhooks"

    id: Mapped[UUID] = mapped_column(primary_key=True)
    account_id: Mapped[UUID] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    domain_id: Mapped[UUID] = mapped_column(
        ForeignKey("domains.id", ondelete="CASCADE"), index=True
    )
    address: Mapped[str] = mapped_column(String(320), unique=True)
    target_url: Mapped[str] = mapped_column(Text)
    secret: Mapped[str] = mapped_column(Text)
    previous_secret: Mapped[str | None] = mapped_column(Text)
    previous_secret_until: Mapped[datetime | None]
    custom_headers: Mapped[str] = mapped_column(Text)  # JSON object
    payload_template: Mapped[str | None] = mapped_column(Text)
    payload_format: Mapped[str] = mapped_column(String(16))
    attachment_url_threshold: Mapped[int | None] = mapped_column(BigInteger)
    rate_limit: Mapped[int]
    active: Mapped[bool]
    smtp_security_policy_id: Mapped[UUID | None] = mapped_column(
        ForeignKey("smtp_policies.id", ondelete="SET NULL"), index=True
    )
    delivery_mode: Mapped[str] = mapped_column(String(8), server_default="queue")
    failing_since: Mapped[datetime | None]
    disabled_reason: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class DeliveryLogRow(Base):
    __tablename__ = "delivery_logs"

    id: Mapped[UUID] = mapped_column(primary_key=True)
    webhook_id: Mapped[UUID] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    attempted_at: Mapped[datetime]
    duration_ms: Mapped[int]
    http_status: Mapped[int]
    error: Mapped[str | None] = mapped_column(Text)
    sender: Mapped[str] = mapped_column(Text)
    smtp_message_id: Mapped[str] = mapped_column(Text)
    attempt: Mapped[int]
    status: Mapped[str] = mapped_column(String(16))
    next_attempt_at: Mapped[datetime | None]
    job_id: Mapped[UUID | None]  # no foreign key: a log row may outlive its job (see 0010)

    __table_args__ = (
        Index("ix_delivery_logs_webhook_attempted", "webhook_id", "attempted_at"),
        # retention: a message's rows by job; rows of no job (refusals, old rows) by age
        Index("ix_delivery_logs_job_attempted", "job_id", "attempted_at"),
    )


class MessageRow(Base):
    __tablename__ = "messages"

    id: Mapped[UUID] = mapped_column(primary_key=True)
    received_at: Mapped[datetime]
    mail_from: Mapped[str] = mapped_column(Text)
    rcpt_to: Mapped[str] = mapped_column(Text)  # JSON list
    remote_ip: Mapped[str] = mapped_column(String(64))
    helo: Mapped[str] = mapped_column(Text)
    smtp_user: Mapped[str | None] = mapped_column(Text)
    auth: Mapped[str] = mapped_column(Text)  # JSON {"spf": {...} | null, "dkim": [...]}
    message_id: Mapped[str] = mapped_column(Text)
    raw: Mapped[bytes] = mapped_column(LargeBinary)

    __table_args__ = (Index("ix_messages_received_at", "received_at"),)  # retention, oldest first


class JobRow(Base):
    __tablename__ = "delivery_jobs"

    id: Mapped[UUID] = mapped_column(primary_key=True)
    message_id: Mapped[UUID] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), index=True
    )
    webhook_id: Mapped[UUID] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    account_id: Mapped[UUID]  # the webhook's, copied: the message list reads by account
    recipients: Mapped[str] = mapped_column(Text)  # JSON list
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int]
    schedule_start: Mapped[int] = mapped_column(server_default="0")
    next_attempt_at: Mapped[datetime]
    claimed_until: Mapped[datetime | None]
    created_at: Mapped[datetime]  # when the message was received

    __table_args__ = (
        Index("ix_delivery_jobs_due", "status", "next_attempt_at"),
        Index("ix_delivery_jobs_claimed", "status", "claimed_until"),
        # the message list, newest first, by account or by webhook; window replays by webhook
        Index("ix_delivery_jobs_account_created", "account_id", "created_at", "message_id"),
        Index("ix_delivery_jobs_webhook_created", "webhook_id", "created_at"),
    )
