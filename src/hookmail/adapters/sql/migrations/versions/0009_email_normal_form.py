"""Emails in their one normal form (NFC, lower-cased, domain IDNA-encoded), so accounts made
before it sign in with the string they signed up with; public-domain webhooks that take a
catch-all or an RFC 2142 role name, made before that was refused, are deactivated.

An email whose normal form another account already holds keeps its old form (and is
logged): no account is merged or lost.

Revision ID: 0009
Revises: 0005
"""

import logging

import sqlalchemy as sa
from alembic import op

from hookmail.core.accounts import email_normal_form
from hookmail.core.webhooks import CATCH_ALL, ROLE_NAMES

revision = "0009"
down_revision = "0005"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")

_accounts = sa.table("accounts", sa.column("id", sa.Uuid()), sa.column("email", sa.String(320)))
_domains = sa.table("domains", sa.column("id", sa.Uuid()), sa.column("is_public", sa.Boolean()))
_webhooks = sa.table(
    "webhooks",
    sa.column("id", sa.Uuid()),
    sa.column("domain_id", sa.Uuid()),
    sa.column("address", sa.String(320)),
    sa.column("active", sa.Boolean()),
)


def upgrade() -> None:
    connection = op.get_bind()
    rows = connection.execute(sa.select(_accounts.c.id, _accounts.c.email)).all()
    taken = {email for _, email in rows}
    for account_id, email in rows:
        normal = email_normal_form(email)
        if normal == email:
            continue
        if normal in taken:
            log.warning("account %s keeps its email %r: %r is another's", account_id, email, normal)
            continue
        connection.execute(
            sa.update(_accounts).where(_accounts.c.id == account_id).values(email=normal)
        )
        taken.discard(email)
        taken.add(normal)

    shared = (
        sa.select(_webhooks.c.id, _webhooks.c.address)
        .join(_domains, _domains.c.id == _webhooks.c.domain_id)
        .where(_domains.c.is_public, _webhooks.c.active)
    )
    for webhook_id, address in connection.execute(shared).all():
        local = address.rpartition("@")[0]
        if local == CATCH_ALL or local.partition("+")[0] in ROLE_NAMES:
            log.warning(
                "webhook %s (%s) deactivated: reserved on a public domain", webhook_id, address
            )
            connection.execute(
                sa.update(_webhooks).where(_webhooks.c.id == webhook_id).values(active=False)
            )


def downgrade() -> None:
    pass  # the normal form is a valid email as well; nothing to undo
