"""Shared settings that live in the store, not in one process's environment."""

from __future__ import annotations

import secrets

from hookmail.core.ports import UnitOfWork

SIGNING_KEY_NAME = "secret_key"


def shared_secret_key(uow: UnitOfWork) -> str:
    """The access-token signing key every process shares: made once, kept in the store.

    Processes starting together may race; put_if_absent lets the first writer win and
    everyone reads the winner back.
    """
    with uow:
        uow.config.put_if_absent(SIGNING_KEY_NAME, secrets.token_urlsafe(48))
        uow.commit()
    with uow:
        key = uow.config.get(SIGNING_KEY_NAME)
    if key is None:
        raise RuntimeError("the store lost the signing key it was just given")
    return key
