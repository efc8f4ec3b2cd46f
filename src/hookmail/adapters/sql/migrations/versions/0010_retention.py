"""Retention (SPEC §6.7): a log row names its delivery job; messages and tokens found by age.

`delivery_logs.job_id` is nullable and has no foreign key: rows written before it, refusals
and sync attempts whose message was not stored belong to no stored job and go by age (see
core/services/retention.py). Plain ADD COLUMN / CREATE INDEX only: on SQLite a batch
operation copies the table, and dropping the old `delivery_logs` or `messages` with
foreign_keys=ON would cascade to their children.

Revision ID: 0010
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("delivery_logs", sa.Column("job_id", sa.Uuid(), nullable=True))
    op.create_index("ix_delivery_logs_job_attempted", "delivery_logs", ["job_id", "attempted_at"])
    op.create_index("ix_messages_received_at", "messages", ["received_at"])
    op.create_index("ix_issued_tokens_expires_at", "issued_tokens", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_issued_tokens_expires_at", "issued_tokens")
    op.drop_index("ix_messages_received_at", "messages")
    op.drop_index("ix_delivery_logs_job_attempted", "delivery_logs")
    op.drop_column("delivery_logs", "job_id")  # SQLite 3.35+ drops a plain column in place
