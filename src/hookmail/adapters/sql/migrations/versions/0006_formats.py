"""Payload formats and attachment URLs per webhook; DMARC in SMTP policies.

Revision ID: 0006
Revises: 0007

Plain ADD/DROP COLUMN, never a batch table copy: on SQLite a copy drops the old table,
and with foreign keys on that deletes every row that references it (delivery jobs and logs
of webhooks, credentials of policies). Defaults are literal strings for the same reason
(alembic copies the table for an expression default).
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "webhooks",
        sa.Column("payload_format", sa.String(16), nullable=False, server_default="json"),
    )
    op.add_column("webhooks", sa.Column("attachment_url_threshold", sa.BigInteger(), nullable=True))
    op.add_column(
        "smtp_policies",
        sa.Column("require_dmarc", sa.Boolean(), nullable=False, server_default="0"),
    )


def _drop(table: str, column: str) -> None:
    if op.get_bind().dialect.name == "sqlite":  # SQLite 3.35+ drops a column in place
        op.execute(sa.text(f'ALTER TABLE "{table}" DROP COLUMN "{column}"'))
    else:
        op.drop_column(table, column)


def downgrade() -> None:
    _drop("smtp_policies", "require_dmarc")
    _drop("webhooks", "attachment_url_threshold")
    _drop("webhooks", "payload_format")
