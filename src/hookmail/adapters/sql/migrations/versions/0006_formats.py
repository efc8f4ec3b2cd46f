"""Payload formats and attachment URLs per webhook; DMARC in SMTP policies.

Revision ID: 0006
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("webhooks") as batch:
        batch.add_column(
            sa.Column("payload_format", sa.String(16), nullable=False, server_default="json")
        )
        batch.add_column(sa.Column("attachment_url_threshold", sa.BigInteger(), nullable=True))
    with op.batch_alter_table("smtp_policies") as batch:
        batch.add_column(
            sa.Column("require_dmarc", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("smtp_policies") as batch:
        batch.drop_column("require_dmarc")
    with op.batch_alter_table("webhooks") as batch:
        batch.drop_column("attachment_url_threshold")
        batch.drop_column("payload_format")
