"""An index for the delivery workers' fair-share count: jobs under a live lease.

Every claim counts, per webhook, the pending jobs whose lease has not run out; without an
index on `claimed_until` that count reads the whole queue table each time.

Revision ID: 0008
Revises: 0006
"""

from alembic import op

revision = "0008"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_delivery_jobs_claimed", "delivery_jobs", ["status", "claimed_until"])


def downgrade() -> None:
    op.drop_index("ix_delivery_jobs_claimed", table_name="delivery_jobs")
