"""Migration 0009 on SQLite and PostgreSQL: emails made before the normal form get it (no
account merged or lost), and public-domain catch-alls and role names made before they were
refused are deactivated."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine, text

from hookmail.adapters.sql.engine import make_engine, make_sessions, migrate
from hookmail.adapters.sql.types import UtcDateTime
from hookmail.adapters.sql.uow import SqlUnitOfWork
from tests.conftest import PG_URL

pytestmark = pytest.mark.integration

NOW = datetime(2026, 4, 2, 12, 0, tzinfo=UTC)


def _column(name: str, kind: object) -> sa.ColumnClause[Any]:
    # mypy joins the listed types to a mixin sa.column does not take; they are TypeEngines
    return sa.column(name, cast("sa.types.TypeEngine[Any]", kind))


# the tables as revision 0003 left them (not the rows of today, which may have grown)
_accounts = sa.table(
    "accounts",
    *(
        _column(name, kind)
        for name, kind in [
            ("id", sa.Uuid()),
            ("email", sa.String()),
            ("password_hash", sa.String()),
            ("timezone", sa.String()),
            ("token_version", sa.BigInteger()),
            ("totp_secret", sa.String()),
            ("totp_enabled", sa.Boolean()),
            ("totp_last_counter", sa.BigInteger()),
            ("backup_code_hashes", sa.Text()),
            ("created_at", UtcDateTime()),
            ("updated_at", UtcDateTime()),
        ]
    ),
)
_domains = sa.table(
    "domains",
    *(
        _column(name, kind)
        for name, kind in [
            ("id", sa.Uuid()),
            ("account_id", sa.Uuid()),
            ("name", sa.String()),
            ("verification_token", sa.String()),
            ("verified", sa.Boolean()),
            ("is_public", sa.Boolean()),
            ("created_at", UtcDateTime()),
            ("updated_at", UtcDateTime()),
        ]
    ),
)
_webhooks = sa.table(
    "webhooks",
    *(
        _column(name, kind)
        for name, kind in [
            ("id", sa.Uuid()),
            ("account_id", sa.Uuid()),
            ("domain_id", sa.Uuid()),
            ("address", sa.String()),
            ("target_url", sa.Text()),
            ("secret", sa.Text()),
            ("custom_headers", sa.Text()),
            ("rate_limit", sa.Integer()),
            ("active", sa.Boolean()),
            ("created_at", UtcDateTime()),
            ("updated_at", UtcDateTime()),
        ]
    ),
)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def bare_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty store of its own (a file, or a PostgreSQL schema), not migrated."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
        yield engine
        engine.dispose()
        return
    request.getfixturevalue("postgres_engine")  # skips when PostgreSQL is not there
    schema = f"hookmail_m9_{uuid.uuid4().hex[:12]}"
    admin = make_engine(PG_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(PG_URL, connect_args={"options": f"-csearch_path={schema}"})
    yield engine
    engine.dispose()
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def _account(email: str) -> dict[str, object]:
    return {
        "id": uuid.uuid4(),
        "email": email,
        "password_hash": "plain$x",
        "timezone": "UTC",
        "token_version": 0,
        "totp_secret": None,
        "totp_enabled": False,
        "totp_last_counter": -1,
        "backup_code_hashes": "",
        "created_at": NOW,
        "updated_at": NOW,
    }


def _webhook(account_id: object, domain_id: object, address: str) -> dict[str, object]:
    return {
        "id": uuid.uuid4(),
        "account_id": account_id,
        "domain_id": domain_id,
        "address": address,
        "target_url": "https://h.example.net/",
        "secret": "whsec_" + "A" * 44,
        "custom_headers": "{}",
        "rate_limit": 0,
        "active": True,
        "created_at": NOW,
        "updated_at": NOW,
    }


def test_old_rows_get_the_normal_form_and_shared_role_names_are_deactivated(
    bare_engine: Engine,
) -> None:
    migrate(bare_engine, "0003")
    unicode_idn = _account("idn@bücher.example")
    nfd = _account("jose\u0301@example.com")
    plain = _account("alice@example.com")
    twin_old = _account("b@bücher.example")  # its normal form is the next one's email
    twin_new = _account("b@xn--bcher-kva.example")
    public = {
        "id": uuid.uuid4(),
        "account_id": None,
        "name": "inbound.hookmail.test",
        "verification_token": "",
        "verified": True,
        "is_public": True,
        "created_at": NOW,
        "updated_at": NOW,
    }
    owner = plain["id"]
    hooks = {
        local: _webhook(owner, public["id"], f"{local}@inbound.hookmail.test")
        for local in ["*", "postmaster", "abuse+x", "orders", "noc-team"]
    }
    with bare_engine.begin() as connection:
        connection.execute(sa.insert(_accounts), [unicode_idn, nfd, plain, twin_old, twin_new])
        connection.execute(sa.insert(_domains), [public])
        connection.execute(sa.insert(_webhooks), list(hooks.values()))

    migrate(bare_engine)

    uow = SqlUnitOfWork(make_sessions(bare_engine))
    with uow.reading():
        found = {
            name: uow.accounts.get(row["id"])  # type: ignore[arg-type]
            for name, row in [
                ("idn", unicode_idn),
                ("nfd", nfd),
                ("plain", plain),
                ("twin_old", twin_old),
                ("twin_new", twin_new),
            ]
        }
        active = {
            local: uow.webhooks.get(row["id"]).active  # type: ignore[arg-type, union-attr]
            for local, row in hooks.items()
        }
    assert {name: a.email for name, a in found.items() if a is not None} == {
        "idn": "idn@xn--bcher-kva.example",
        "nfd": "jos\u00e9@example.com",
        "plain": "alice@example.com",
        "twin_old": "b@bücher.example",  # kept: no two accounts merged
        "twin_new": "b@xn--bcher-kva.example",
    }
    assert active == {
        "*": False,
        "postmaster": False,
        "abuse+x": False,
        "orders": True,
        "noc-team": True,
    }
