"""Dashboard sign-in, sign-out and session checks, over the same rules as the API's.

Sign-in and 2FA completion are the API's (`sessions.sign_in_with`), with a cookie session
opened in place of tokens; a password change is the API's, and keeps only this browser in.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from attrs import field, frozen

from hookmail.core.accounts import Account
from hookmail.core.errors import InvalidToken
from hookmail.core.ports import Clock, PasswordHasher, UnitOfWork
from hookmail.core.services import accounts, sessions
from hookmail.core.services.sessions import TotpChallenge
from hookmail.core.throttle import Limits
from hookmail.core.tokens import digest
from hookmail.core.web_sessions import WebSession


@frozen
class OpenedWebSession:
    token: str = field(repr=False)  # the cookie's value
    account_id: UUID


def open_web_session(uow: UnitOfWork, account: Account, now: datetime) -> OpenedWebSession:
    """Open a session for `account` in the caller's transaction (the caller commits)."""
    uow.web_sessions.prune(now)  # expired sessions go as new ones come
    session, plain = WebSession.open(account, now)
    uow.web_sessions.add(session)
    return OpenedWebSession(plain, account.id)


def sign_in(
    uow: UnitOfWork,
    clock: Clock,
    hasher: PasswordHasher,
    limits: Limits,
    *,
    email: str,
    password: str,
    client: str,
) -> OpenedWebSession | TotpChallenge:
    return sessions.sign_in_with(
        uow, clock, hasher, limits, open_web_session, email=email, password=password, client=client
    )


def complete_totp(
    uow: UnitOfWork, clock: Clock, limits: Limits, *, challenge: str, code: str, client: str
) -> OpenedWebSession:
    return sessions.complete_totp_with(
        uow, clock, limits, open_web_session, challenge=challenge, code=code, client=client
    )


def signed_in_account(uow: UnitOfWork, clock: Clock, *, token: str) -> Account:
    """The account of a live session. Raises InvalidToken for an unknown, expired or
    signed-out session, and one from before a password change or of a deleted account."""
    with uow.reading():
        session = uow.web_sessions.by_hash(digest(token))
        account = uow.accounts.get(session.account_id) if session else None
    if session is None or not session.valid_for(account, clock.now()) or account is None:
        raise InvalidToken("the session has ended; sign in again")
    return account


def sign_out(uow: UnitOfWork, *, token: str) -> None:
    """End the session (whatever state it is in)."""
    with uow:
        session = uow.web_sessions.by_hash(digest(token))
        if session is not None:
            uow.web_sessions.delete(session.id)
            uow.commit()


def change_password(
    uow: UnitOfWork,
    clock: Clock,
    hasher: PasswordHasher,
    limits: Limits,
    *,
    token: str,
    current_password: str,
    new_password: str,
    client: str,
) -> OpenedWebSession:
    """The API's password change (every session and token ends), then a new session for
    the browser that made it."""
    account = signed_in_account(uow, clock, token=token)
    accounts.change_password(
        uow,
        clock,
        hasher,
        limits,
        account_id=account.id,
        current_password=current_password,
        new_password=new_password,
        client=client,
    )
    with uow:
        changed = uow.accounts.get(account.id)
        if changed is None:
            raise InvalidToken("the account is gone")
        old = uow.web_sessions.by_hash(digest(token))
        if old is not None:
            uow.web_sessions.delete(old.id)
        opened = open_web_session(uow, changed, clock.now())
        uow.commit()
    return opened
