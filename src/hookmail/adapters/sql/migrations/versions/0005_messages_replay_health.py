"""Messages, replay, failing and synchronous webhooks (SPEC §6.1-§6.4).

Delivery jobs learn their account (the message list reads by account, newest first) and
where their current retry schedule began (a replay starts it afresh); webhooks learn when
they started failing, why hookmail disabled them, and their delivery mode.

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
    with op.batch_alter_table("webhooks") as batch:
        batch.add_column(
            sa.Column("delivery_mode", sa.String(8), nullable=False, server_default="queue")
        )
        batch.add_column(sa.Column("failing_since", UtcDateTime(), nullable=True))
        batch.add_column(sa.Column("disabled_reason", sa.String(32), nullable=True))
    with op.batch_alter_table("delivery_jobs") as batch:
        batch.add_column(sa.Column("account_id", sa.Uuid(), nullable=True))
        batch.add_column(
            sa.Column("schedule_start", sa.Integer(), nullable=False, server_default="0")
        )
    op.execute(
        "UPDATE delivery_jobs SET account_id = "
        "(SELECT webhooks.account_id FROM webhooks WHERE webhooks.id = delivery_jobs.webhook_id)"
    )
    with op.batch_alter_table("delivery_jobs") as batch:
        batch.alter_column("account_id", existing_type=sa.Uuid(), nullable=False)
        batch.drop_index("ix_delivery_jobs_webhook_id")
        batch.create_index(
            "ix_delivery_jobs_account_created", ["account_id", "created_at", "message_id"]
        )
        batch.create_index("ix_delivery_jobs_webhook_created", ["webhook_id", "created_at"])


def downgrade() -> None:
    with op.batch_alter_table("delivery_jobs") as batch:
        batch.drop_index("ix_delivery_jobs_webhook_created")
        batch.drop_index("ix_delivery_jobs_account_created")
        batch.create_index("ix_delivery_jobs_webhook_id", ["webhook_id"])
        batch.drop_column("schedule_start")
        batch.drop_column("account_id")
    with op.batch_alter_table("webhooks") as batch:
        batch.drop_column("disabled_reason")
        batch.drop_column("failing_since")
        batch.drop_column("delivery_mode")
