"""The shared keys every process reads from the store (made once, on first use), not from one
process's environment: access-token signing, SMTP credential salts, attachment URLs."""

from __future__ import annotations

import secrets

from hookmail.core.ports import UnitOfWork

SIGNING_KEY_NAME = "secret_key"
CREDENTIAL_KEY_NAME = "smtp_credential_key"
ATTACHMENT_URL_KEY_NAME = "attachment_url_key"


def _shared(uow: UnitOfWork, name: str, *, nbytes: int = 48) -> str:
    """A random value made once and kept in the store, the same for every process.

    Processes starting together may race; put_if_absent lets the first writer win and
    everyone reads the winner back.
    """
    with uow:
        uow.config.put_if_absent(name, secrets.token_urlsafe(nbytes))
        uow.commit()
    with uow:
        value = uow.config.get(name)
    if value is None:
        raise RuntimeError(f"the store lost the {name} it was just given")
    return value


def shared_secret_key(uow: UnitOfWork) -> str:
    """The access-token signing key every process shares."""
    return _shared(uow, SIGNING_KEY_NAME)


def smtp_credential_key(uow: UnitOfWork) -> bytes:
    """The key SMTP credential salts are derived from (never changed once made: a hash made
    with another key is no longer found by equality, only by verifying it alone)."""
    return _shared(uow, CREDENTIAL_KEY_NAME).encode()


def attachment_url_key(uow: UnitOfWork) -> bytes:
    """The key every process signs attachment URLs with (256 random bits)."""
    return _shared(uow, ATTACHMENT_URL_KEY_NAME, nbytes=32).encode("ascii")
