"""Migration 0004 on SQLite and PostgreSQL: credentials stored before it (JSON pairs, randomly
salted argon2) keep working after it, are rehashed with a keyed salt on their first login,
and go back to JSON on downgrade."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from hookmail.adapters.memory import FixedClock
from hookmail.adapters.passwords import Argon2PasswordHasher
from hookmail.adapters.sql.engine import downgrade, make_engine, make_sessions, migrate
from hookmail.adapters.sql.uow import SqlUnitOfWork
from hookmail.core.services import smtp_auth
from hookmail.core.throttle import Limit
from tests import conftest

pytestmark = pytest.mark.integration

NOW = datetime(2026, 4, 2, 12, 0, tzinfo=UTC)
BEFORE = "0009"  # the revision 0004 follows
OLD = Argon2PasswordHasher(time_cost=1, memory_cost=1024)  # what policies were saved with


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine_before(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
        migrate(engine, BEFORE)
        yield engine
        engine.dispose()
        return
    if conftest._PG_SKIP:
        pytest.skip(conftest._PG_SKIP)
    schema = f"hookmail_migration_{uuid.uuid4().hex[:12]}"
    admin = make_engine(conftest.PG_URL)
    with admin.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(conftest.PG_URL, connect_args={"options": f"-csearch_path={schema}"})
    migrate(engine, BEFORE)
    yield engine
    engine.dispose()
    with admin.begin() as connection:
        connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def _old_policy(engine: Engine, pairs: list[list[str]]) -> uuid.UUID:
    """An account and a policy as the revision before 0004 stored them."""
    account_id, policy_id = uuid.uuid4(), uuid.uuid4()
    stamps = {"created_at": NOW, "updated_at": NOW}
    accounts = sa.table(
        "accounts",
        *(sa.column(c) for c in ("email", "password_hash", "timezone", "backup_code_hashes")),
        *(sa.column(c) for c in ("token_version", "totp_enabled", "totp_last_counter")),
        sa.column("id", sa.Uuid()),
        sa.column("created_at"),
        sa.column("updated_at"),
    )
    policies = sa.table(
        "smtp_policies",
        sa.column("id", sa.Uuid()),
        sa.column("account_id", sa.Uuid()),
        *(sa.column(c) for c in ("name", "require_smtp_auth", "smtp_credentials")),
        *(sa.column(c) for c in ("allowed_source_ips", "require_spf", "allowed_spf_domains")),
        *(sa.column(c) for c in ("require_dkim", "allowed_dkim_domains")),
        sa.column("created_at"),
        sa.column("updated_at"),
    )
    with engine.begin() as connection:
        connection.execute(
            accounts.insert().values(
                id=account_id,
                email=f"{account_id.hex}@example.com",
                password_hash="x",
                timezone="UTC",
                backup_code_hashes="",
                token_version=0,
                totp_enabled=False,
                totp_last_counter=-1,
                **stamps,
            )
        )
        connection.execute(
            policies.insert().values(
                id=policy_id,
                account_id=account_id,
                name="old",
                require_smtp_auth=True,
                smtp_credentials=json.dumps(pairs),
                allowed_source_ips="",
                require_spf=False,
                allowed_spf_domains="",
                require_dkim=False,
                allowed_dkim_domains="",
                **stamps,
            )
        )
    return policy_id


def _credentials(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text("SELECT username, password_hash FROM smtp_credentials ORDER BY position")
        )
        return [(r[0], r[1]) for r in rows]


def test_credentials_from_before_the_migration_keep_working_and_are_rehashed(
    engine_before: Engine,
) -> None:
    engine = engine_before
    relay, backup = OLD.hash("s3cret-pass"), OLD.hash("other-pass")
    policy_id = _old_policy(engine, [["relay", relay], ["backup", backup]])
    migrate(engine)
    assert _credentials(engine) == [("relay", relay), ("backup", backup)]

    keyed = OLD.keyed(b"a key kept in the store")
    uow = SqlUnitOfWork(make_sessions(engine))
    limit = Limit(10, timedelta(minutes=15))

    def login(password: str) -> smtp_auth.LoginOutcome:
        return smtp_auth.authenticate(
            uow, FixedClock(), keyed, limit, user="relay", password=password, client="192.0.2.1"
        )

    assert login("wrong") == smtp_auth.LoginFailed()
    assert _credentials(engine)[0] == ("relay", relay)
    assert login("s3cret-pass") == smtp_auth.LoggedIn("relay", frozenset({policy_id}))
    assert _credentials(engine) == [
        ("relay", keyed.hash("relay", "s3cret-pass")),
        ("backup", backup),
    ]
    assert login("s3cret-pass") == smtp_auth.LoggedIn("relay", frozenset({policy_id}))

    downgrade(engine, BEFORE)
    with engine.connect() as connection:
        stored = connection.execute(sa.text("SELECT smtp_credentials FROM smtp_policies")).scalar()
    assert json.loads(str(stored)) == [
        ["relay", keyed.hash("relay", "s3cret-pass")],
        ["backup", backup],
    ]
