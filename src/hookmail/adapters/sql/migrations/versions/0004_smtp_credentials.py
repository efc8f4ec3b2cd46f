"""SMTP credentials in a table of their own, indexed by user name (SMTP AUTH looks a login
up by equality instead of verifying every policy's hashes).

The pairs move out of the JSON column as they are: their hashes are randomly salted argon2,
which SMTP AUTH still verifies one by one and rehashes with a keyed salt on the first
successful login, so every stored password keeps working.

Revision ID: 0004
Revises: 0009 (the newest on main when this landed; numbers are assigned, not ordered)
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    credentials = op.create_table(
        "smtp_credentials",
        sa.Column("policy_id", sa.Uuid(), nullable=False),
        sa.Column("username", sa.String(255), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.ForeignKeyConstraint(
            ["policy_id"],
            ["smtp_policies.id"],
            name="fk_smtp_credentials_policy_id_smtp_policies",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("policy_id", "username", name="pk_smtp_credentials"),
    )
    op.create_index("ix_smtp_credentials_username", "smtp_credentials", ["username"])
    policies = sa.table(
        "smtp_policies", sa.column("id", sa.Uuid()), sa.column("smtp_credentials", sa.Text())
    )
    connection = op.get_bind()
    moved = []
    for policy_id, raw in connection.execute(sa.select(policies.c.id, policies.c.smtp_credentials)):
        seen: set[str] = set()
        for position, (user, password_hash) in enumerate(json.loads(raw or "[]")):
            if user not in seen:
                seen.add(user)
                moved.append(
                    {
                        "policy_id": policy_id,
                        "username": user,
                        "position": position,
                        "password_hash": password_hash,
                    }
                )
    if moved:
        op.bulk_insert(credentials, moved)
    op.drop_column("smtp_policies", "smtp_credentials")


def downgrade() -> None:
    op.add_column(
        "smtp_policies",
        sa.Column("smtp_credentials", sa.Text(), nullable=False, server_default="[]"),
    )
    credentials = sa.table(
        "smtp_credentials",
        sa.column("policy_id", sa.Uuid()),
        sa.column("username", sa.String()),
        sa.column("position", sa.Integer()),
        sa.column("password_hash", sa.String()),
    )
    policies = sa.table(
        "smtp_policies", sa.column("id", sa.Uuid()), sa.column("smtp_credentials", sa.Text())
    )
    connection = op.get_bind()
    pairs: dict[object, list[list[str]]] = {}
    rows = connection.execute(
        sa.select(credentials).order_by(credentials.c.policy_id, credentials.c.position)
    )
    for row in rows:
        pairs.setdefault(row.policy_id, []).append([row.username, row.password_hash])
    for policy_id, found in pairs.items():
        connection.execute(
            policies.update()
            .where(policies.c.id == policy_id)
            .values(smtp_credentials=json.dumps(found))
        )
    op.drop_index("ix_smtp_credentials_username", table_name="smtp_credentials")
    op.drop_table("smtp_credentials")
