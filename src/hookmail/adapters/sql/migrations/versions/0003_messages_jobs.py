"""Inbound messages and their delivery jobs.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from hookmail.adapters.sql.types import UtcDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "messages",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("received_at", UtcDateTime(), nullable=False),
        sa.Column("mail_from", sa.Text(), nullable=False),
        sa.Column("rcpt_to", sa.Text(), nullable=False),
        sa.Column("remote_ip", sa.String(64), nullable=False),
        sa.Column("helo", sa.Text(), nullable=False),
        sa.Column("smtp_user", sa.Text(), nullable=True),
        sa.Column("auth", sa.Text(), nullable=False),
        sa.Column("message_id", sa.Text(), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_messages"),
    )
    op.create_table(
        "delivery_jobs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("message_id", sa.Uuid(), nullable=False),
        sa.Column("webhook_id", sa.Uuid(), nullable=False),
        sa.Column("recipients", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UtcDateTime(), nullable=False),
        sa.Column("claimed_until", UtcDateTime(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name="fk_delivery_jobs_message_id_messages",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["webhook_id"],
            ["webhooks.id"],
            name="fk_delivery_jobs_webhook_id_webhooks",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_delivery_jobs"),
    )
    op.create_index("ix_delivery_jobs_message_id", "delivery_jobs", ["message_id"])
    op.create_index("ix_delivery_jobs_webhook_id", "delivery_jobs", ["webhook_id"])
    op.create_index("ix_delivery_jobs_due", "delivery_jobs", ["status", "next_attempt_at"])


def downgrade() -> None:
    op.drop_table("delivery_jobs")
    op.drop_table("messages")
