"""Shared settings that live in the store, not in one process's environment."""

from __future__ import annotations

import secrets

from hookmail.core.ports import UnitOfWork

SECRET_KEY = "secret_key"


def shared_secret_key(uow: UnitOfWork) -> str:
    """The access-token signing key every process shares: made once, kept in the store."""
    with uow:
        key = uow.config.get(SECRET_KEY)
        if key is None:
            uow.config.put_if_absent(SECRET_KEY, secrets.token_urlsafe(48))
            uow.commit()
    if key is None:
        with uow:
            key = uow.config.get(SECRET_KEY)
    assert key is not None  # put_if_absent left a value, ours or a racing writer's
    return key
