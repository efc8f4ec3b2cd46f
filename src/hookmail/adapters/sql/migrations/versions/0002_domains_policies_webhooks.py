"""Domains, SMTP security policies, webhooks, delivery logs.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from hookmail.adapters.sql.types import UtcDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _stamps() -> list[sa.Column[object]]:
    return [
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    ]


def _account_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["account_id"], ["accounts.id"], name=f"fk_{table}_account_id_accounts", ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "domains",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=True),
        sa.Column("name", sa.String(253), nullable=False),
        sa.Column("verification_token", sa.String(64), nullable=False),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.Column("is_public", sa.Boolean(), nullable=False),
        *_stamps(),
        _account_fk("domains"),
        sa.PrimaryKeyConstraint("id", name="pk_domains"),
    )
    op.create_index(
        "uq_domains_verified_name",
        "domains",
        ["name"],
        unique=True,
        sqlite_where=sa.text("verified"),
        postgresql_where=sa.text("verified"),
    )
    op.create_index("uq_domains_account_name", "domains", ["account_id", "name"], unique=True)

    op.create_table(
        "smtp_policies",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("require_smtp_auth", sa.Boolean(), nullable=False),
        sa.Column("smtp_credentials", sa.Text(), nullable=False),
        sa.Column("allowed_source_ips", sa.Text(), nullable=False),
        sa.Column("require_spf", sa.Boolean(), nullable=False),
        sa.Column("allowed_spf_domains", sa.Text(), nullable=False),
        sa.Column("require_dkim", sa.Boolean(), nullable=False),
        sa.Column("allowed_dkim_domains", sa.Text(), nullable=False),
        *_stamps(),
        _account_fk("smtp_policies"),
        sa.PrimaryKeyConstraint("id", name="pk_smtp_policies"),
    )
    op.create_index("ix_smtp_policies_account_id", "smtp_policies", ["account_id"])

    op.create_table(
        "webhooks",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("domain_id", sa.Uuid(), nullable=False),
        sa.Column("address", sa.String(320), nullable=False),
        sa.Column("target_url", sa.Text(), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("previous_secret", sa.Text(), nullable=True),
        sa.Column("previous_secret_until", UtcDateTime(), nullable=True),
        sa.Column("custom_headers", sa.Text(), nullable=False),
        sa.Column("payload_template", sa.Text(), nullable=True),
        sa.Column("rate_limit", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("smtp_security_policy_id", sa.Uuid(), nullable=True),
        *_stamps(),
        _account_fk("webhooks"),
        sa.ForeignKeyConstraint(
            ["domain_id"], ["domains.id"], name="fk_webhooks_domain_id_domains", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["smtp_security_policy_id"],
            ["smtp_policies.id"],
            name="fk_webhooks_smtp_security_policy_id_smtp_policies",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_webhooks"),
        sa.UniqueConstraint("address", name="uq_webhooks_address"),
    )
    op.create_index("ix_webhooks_account_id", "webhooks", ["account_id"])
    op.create_index("ix_webhooks_domain_id", "webhooks", ["domain_id"])
    op.create_index("ix_webhooks_smtp_security_policy_id", "webhooks", ["smtp_security_policy_id"])

    op.create_table(
        "delivery_logs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("webhook_id", sa.Uuid(), nullable=False),
        sa.Column("attempted_at", UtcDateTime(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("sender", sa.Text(), nullable=False),
        sa.Column("smtp_message_id", sa.Text(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("next_attempt_at", UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["webhook_id"],
            ["webhooks.id"],
            name="fk_delivery_logs_webhook_id_webhooks",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_delivery_logs"),
    )
    op.create_index(
        "ix_delivery_logs_webhook_attempted", "delivery_logs", ["webhook_id", "attempted_at"]
    )


def downgrade() -> None:
    op.drop_table("delivery_logs")
    op.drop_table("webhooks")
    op.drop_table("smtp_policies")
    op.drop_table("domains")
