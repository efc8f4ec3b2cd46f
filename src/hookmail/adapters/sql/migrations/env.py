"""Alembic environment: runs on the connection hookmail hands over (see engine.migrate)."""

from __future__ import annotations

from alembic import context

from hookmail.adapters.sql.rows import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `hookmail migrate`")
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
