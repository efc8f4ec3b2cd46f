"""Messages, replay, failing and synchronous webhooks (SPEC §6.1-§6.4).

Delivery jobs learn their account (the message list reads by account, newest first) and
where their current retry schedule began (a replay starts it afresh); webhooks learn when
they started failing, why hookmail disabled them, and their delivery mode. On SQLite
`delivery_jobs.account_id` stays nullable in the schema (making it NOT NULL would copy the
table); hookmail always writes it.

Revision ID: 0005
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

from hookmail.adapters.sql.types import UtcDateTime

revision = "0005"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN / CREATE INDEX only: on SQLite a batch operation copies the table, and
    # dropping the old `webhooks` would cascade to every job and log (foreign_keys=ON).
    op.add_column(
        "webhooks", sa.Column("delivery_mode", sa.String(8), nullable=False, server_default="queue")
    )
    op.add_column("webhooks", sa.Column("failing_since", UtcDateTime(), nullable=True))
    op.add_column("webhooks", sa.Column("disabled_reason", sa.String(32), nullable=True))
    op.add_column("delivery_jobs", sa.Column("account_id", sa.Uuid(), nullable=True))
    op.add_column(
        "delivery_jobs",
        sa.Column("schedule_start", sa.Integer(), nullable=False, server_default="0"),
    )
    op.execute(
        "UPDATE delivery_jobs SET account_id = "
        "(SELECT webhooks.account_id FROM webhooks WHERE webhooks.id = delivery_jobs.webhook_id)"
    )
    if op.get_bind().dialect.name == "postgresql":  # in place there; SQLite would copy
        op.alter_column("delivery_jobs", "account_id", nullable=False)
    op.drop_index("ix_delivery_jobs_webhook_id", "delivery_jobs")
    op.create_index(
        "ix_delivery_jobs_account_created",
        "delivery_jobs",
        ["account_id", "created_at", "message_id"],
    )
    op.create_index(
        "ix_delivery_jobs_webhook_created", "delivery_jobs", ["webhook_id", "created_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_delivery_jobs_webhook_created", "delivery_jobs")
    op.drop_index("ix_delivery_jobs_account_created", "delivery_jobs")
    op.create_index("ix_delivery_jobs_webhook_id", "delivery_jobs", ["webhook_id"])
    for table, column in (
        ("delivery_jobs", "schedule_start"),
        ("delivery_jobs", "account_id"),
        ("webhooks", "disabled_reason"),
        ("webhooks", "failing_since"),
        ("webhooks", "delivery_mode"),
    ):
        op.drop_column(table, column)  # SQLite 3.35+ drops a plain column in place
