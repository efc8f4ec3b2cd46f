"""Shared fixtures: stores (in-memory, SQLite, PostgreSQL in a schema of its own), apps."""

from __future__ import annotations

import base64
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, table, text
from sqlalchemy.exc import OperationalError

from hookmail.adapters.memory import InMemoryUnitOfWork
from hookmail.adapters.sql.engine import make_engine, make_sessions, migrate
from hookmail.adapters.sql.rows import Base
from hookmail.adapters.sql.uow import SqlUnitOfWork
from hookmail.core.ports import UnitOfWork

PG_URL = os.environ.get(
    "HOOKMAIL_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _postgres_reason() -> str | None:
    try:
        engine = make_engine(PG_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
    except OperationalError as exc:
        return f"PostgreSQL not reachable at {PG_URL}: {exc.orig}"
    return None


_PG_SKIP = _postgres_reason()


@pytest.fixture(scope="session")
def postgres_engine() -> Iterator[Engine]:
    """A migrated schema of its own in the test database, dropped at the end of the run."""
    if _PG_SKIP:
        if os.environ.get("CI"):
            pytest.fail(_PG_SKIP)
        pytest.skip(_PG_SKIP)
    schema = f"hookmail_test_{uuid.uuid4().hex[:12]}"
    admin = make_engine(PG_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(PG_URL, connect_args={"options": f"-csearch_path={schema}"})
    migrate(engine)
    yield engine
    engine.dispose()
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    path: Path = tmp_path_factory.mktemp("sqlite") / "hookmail.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    yield engine
    engine.dispose()


def row_counts(engine: Engine, tables: tuple[str, ...]) -> dict[str, int]:
    """How many rows each of `tables` holds (migration tests compare before and after)."""
    with engine.connect() as connection:
        return {
            name: int(
                connection.execute(select(func.count()).select_from(table(name))).scalar_one()
            )
            for name in tables
        }


def wipe(engine: Engine) -> None:
    """Empty every table (children first), keeping the schema."""
    with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())


STORES = [
    "memory",
    pytest.param("sqlite", marks=pytest.mark.integration),
    pytest.param("postgres", marks=[pytest.mark.integration, pytest.mark.postgres]),
]
SQL_STORES = STORES[1:]


def clean_engine(request: pytest.FixtureRequest, name: str) -> Engine:
    """The session's engine of that name (sqlite or postgres), emptied for this test."""
    engine: Engine = request.getfixturevalue(f"{name}_engine")
    wipe(engine)
    return engine


@pytest.fixture(params=STORES)
def uow(request: pytest.FixtureRequest) -> UnitOfWork:
    """A unit of work on each store: the fake, SQLite and PostgreSQL."""
    if request.param == "memory":
        return InMemoryUnitOfWork()
    return SqlUnitOfWork(make_sessions(clean_engine(request, request.param)))


@pytest.fixture(scope="session")
def dkim_key(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, str]:
    """(a PKCS#1 RSA private key, the base64 public key for a DKIM record's p=), by openssl."""
    folder: Path = tmp_path_factory.mktemp("dkim")
    key = folder / "key.pem"
    subprocess.run(
        ["openssl", "genrsa", "-traditional", "-out", str(key), "1024"],
        check=True,
        capture_output=True,
    )
    der = subprocess.run(
        ["openssl", "rsa", "-in", str(key), "-pubout", "-outform", "DER"],
        check=True,
        capture_output=True,
    ).stdout
    return key.read_bytes(), base64.b64encode(der).decode()


@pytest.fixture(scope="session")
def tls_certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """(certificate, key) PEM paths of a self-signed certificate for mx.hookmail.test."""
    folder: Path = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=mx.hookmail.test",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return str(cert), str(key)
