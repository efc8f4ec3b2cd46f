"""Sign-in, 2FA completion, refresh rotation, sign-out and bearer authentication."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar
from uuid import UUID

from attrs import field, frozen

from hookmail.core import throttle, totp
from hookmail.core.accounts import MAX_EMAIL, Account, email_normal_form
from hookmail.core.errors import InvalidCredentials, InvalidToken, InvalidTotpCode
from hookmail.core.ports import AccessTokens, Clock, PasswordHasher, UnitOfWork
from hookmail.core.throttle import Limits
from hookmail.core.tokens import CHALLENGE_TTL, REFRESH_TTL, IssuedToken, TokenKind, digest


@frozen
class Session:
    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_in: int


@frozen
class TotpChallenge:
    token: str = field(repr=False)
    expires_in: int = int(CHALLENGE_TTL.total_seconds())


def failure_keys(*, email: str, client: str) -> tuple[str, str]:
    """The attempt-log keys of failed secret checks: one per account (by the email's normal
    form; a digest past the longest address, so any input fits the key), one per client."""
    account = email_normal_form(email)
    if len(account) > MAX_EMAIL:
        account = "#" + hashlib.sha256(account.encode("utf-8", "replace")).hexdigest()
    return f"fail:account:{account}", f"fail:client:{client}"


def open_session(
    uow: UnitOfWork,
    tokens: AccessTokens,
    account: Account,
    now: datetime,
    family_id: UUID | None = None,
) -> Session:
    """Issue an access token and a refresh token (in `family_id`, or a new family).

    The caller commits.
    """
    refresh, plain = IssuedToken.issue(
        kind=TokenKind.REFRESH, account_id=account.id, now=now, ttl=REFRESH_TTL, family_id=family_id
    )
    uow.tokens.add(refresh)
    access = tokens.issue(account_id=account.id, token_version=account.token_version, now=now)
    return Session(access_token=access, refresh_token=plain, expires_in=tokens.lifetime_seconds)


S = TypeVar("S")
Opener = Callable[[UnitOfWork, Account, datetime], S]
"""Opens a session of one face (API tokens, dashboard cookie) in the caller's transaction."""


def sign_in(
    uow: UnitOfWork,
    clock: Clock,
    hasher: PasswordHasher,
    tokens: AccessTokens,
    limits: Limits,
    *,
    email: str,
    password: str,
    client: str,
) -> Session | TotpChallenge:
    """Check the password; answer API tokens, or a 2FA challenge when TOTP is on."""
    return sign_in_with(
        uow,
        clock,
        hasher,
        limits,
        lambda u, account, now: open_session(u, tokens, account, now),
        email=email,
        password=password,
        client=client,
    )


def sign_in_with(
    uow: UnitOfWork,
    clock: Clock,
    hasher: PasswordHasher,
    limits: Limits,
    opener: Opener[S],
    *,
    email: str,
    password: str,
    client: str,
) -> S | TotpChallenge:
    """Check the password; answer what `opener` opens, or a 2FA challenge when TOTP is on.

    Every face signs in here, so the rate limits and 2FA rules are the same for all.
    Unknown email and wrong password fail alike and cost the same time.
    """
    now = clock.now()
    keys = failure_keys(email=email, client=client)
    with uow:
        throttle.ensure_below(uow.attempts, limits.failures, keys, now)
        account = uow.accounts.by_email(email_normal_form(email))
        if account is None:
            hasher.burn(password)
        if account is None or not hasher.verify(password, account.password_hash):
            throttle.record(uow.attempts, keys, now)
            uow.commit()
            raise InvalidCredentials("email or password is wrong")
        if account.totp_enabled:
            challenge, plain = IssuedToken.issue(
                kind=TokenKind.TOTP_CHALLENGE, account_id=account.id, now=now, ttl=CHALLENGE_TTL
            )
            uow.tokens.add(challenge)
            uow.commit()
            return TotpChallenge(token=plain)
        session = opener(uow, account, now)
        uow.commit()
    return session


def complete_totp_sign_in(
    uow: UnitOfWork,
    clock: Clock,
    tokens: AccessTokens,
    limits: Limits,
    *,
    challenge: str,
    code: str,
    client: str,
) -> Session:
    """Trade a challenge and a TOTP or backup code for API tokens."""
    return complete_totp_with(
        uow,
        clock,
        limits,
        lambda u, account, now: open_session(u, tokens, account, now),
        challenge=challenge,
        code=code,
        client=client,
    )


def complete_totp_with(
    uow: UnitOfWork,
    clock: Clock,
    limits: Limits,
    opener: Opener[S],
    *,
    challenge: str,
    code: str,
    client: str,
) -> S:
    """Trade a challenge and a TOTP or backup code for what `opener` opens.

    The challenge is single use."""
    now = clock.now()
    with uow:
        stored = uow.tokens.by_hash(TokenKind.TOTP_CHALLENGE, digest(challenge))
        account = uow.accounts.get(stored.account_id) if stored else None
        if stored is None or account is None or not stored.usable(now) or account.totp is None:
            throttle.ensure_below(uow.attempts, limits.failures, [f"fail:client:{client}"], now)
            throttle.record(uow.attempts, [f"fail:client:{client}"], now)
            uow.commit()
            raise InvalidToken("the 2FA challenge is invalid, expired or already used")
        keys = failure_keys(email=account.email, client=client)
        throttle.ensure_below(uow.attempts, limits.failures, keys, now)
        accepted = totp.accept_code(account.totp, code, now, allow_backup=True)
        if accepted is None:
            throttle.record(uow.attempts, keys, now)
            uow.commit()
            raise InvalidTotpCode
        uow.tokens.save(stored.used(now))
        account = account.with_totp(accepted, now)
        uow.accounts.save(account)
        session = opener(uow, account, now)
        uow.commit()
    return session


def refresh_session(
    uow: UnitOfWork, clock: Clock, tokens: AccessTokens, *, refresh_token: str
) -> Session:
    """Rotate a refresh token. A rotated token presented again revokes its whole family."""
    now = clock.now()
    with uow:
        stored = uow.tokens.by_hash(TokenKind.REFRESH, digest(refresh_token))
        if stored is None:
            raise InvalidToken("the refresh token is invalid or expired")
        if stored.used_at is not None:
            uow.tokens.revoke_family(stored.family_id, now)  # a replay: assume theft
            uow.commit()
            raise InvalidToken("the refresh token was already used; its session is revoked")
        account = uow.accounts.get(stored.account_id)
        if account is None or not stored.usable(now):
            raise InvalidToken("the refresh token is invalid or expired")
        uow.tokens.save(stored.used(now))
        session = open_session(uow, tokens, account, now, family_id=stored.family_id)
        uow.commit()
    return session


def sign_out(uow: UnitOfWork, clock: Clock, *, refresh_token: str) -> None:
    """Revoke the given refresh token (and so its session)."""
    now = clock.now()
    with uow:
        stored = uow.tokens.by_hash(TokenKind.REFRESH, digest(refresh_token))
        if stored is None or not stored.usable(now):
            raise InvalidToken("the refresh token is invalid or expired")
        uow.tokens.revoke_family(stored.family_id, now)
        uow.commit()


def authenticate(uow: UnitOfWork, clock: Clock, tokens: AccessTokens, *, bearer: str) -> UUID:
    """The account id of a valid access token whose account still exists and whose
    token version is current (password changes and deletion revoke older tokens)."""
    claims = tokens.verify(bearer, now=clock.now())
    with uow.reading():
        account = uow.accounts.get(claims.account_id)
    if account is None or account.token_version != claims.token_version:
        raise InvalidToken("the access token has been revoked")
    return account.id
