"""Account use cases: sign-up, profile, password change and reset, deletion."""

from __future__ import annotations

import functools
from uuid import UUID

from attrs import evolve

from hookmail.core import throttle, totp
from hookmail.core.accounts import Account, check_password, check_timezone, email_normal_form
from hookmail.core.errors import (
    AccountNotFound,
    EmailTaken,
    InvalidCredentials,
    InvalidToken,
    InvalidTotpCode,
)
from hookmail.core.ports import (
    Background,
    Clock,
    EmailSyntax,
    Mailer,
    PasswordHasher,
    UnitOfWork,
)
from hookmail.core.services.sessions import failure_keys
from hookmail.core.throttle import Limits
from hookmail.core.tokens import RESET_TTL, IssuedToken, TokenKind, digest


def sign_up(
    uow: UnitOfWork,
    clock: Clock,
    hasher: PasswordHasher,
    emails: EmailSyntax,
    limits: Limits,
    *,
    email: str,
    password: str,
    client: str,
) -> Account:
    """Open an account. Limited per client address, since a 409 tells an address exists.

    The syntax is checked by `emails`; the account is stored under the email's normal form,
    the one sign-in and reset look it up by."""
    emails.normalize(email)
    address = email_normal_form(email)
    check_password(password)
    now = clock.now()
    keys = [f"signup:client:{client}"]
    with uow:
        throttle.ensure_below(uow.attempts, limits.signups, keys, now)
        throttle.record(uow.attempts, keys, now)
        uow.commit()
    account = Account.open(email=address, password_hash=hasher.hash(password), now=now)
    with uow:
        if uow.accounts.by_email(address) is not None:
            raise EmailTaken
        uow.accounts.add(account)
        uow.commit()
    return account


def get_account(uow: UnitOfWork, *, account_id: UUID) -> Account:
    with uow.reading():
        account = uow.accounts.get(account_id)
    if account is None:
        raise AccountNotFound
    return account


def _load(uow: UnitOfWork, account_id: UUID) -> Account:
    account = uow.accounts.get(account_id)
    if account is None:
        raise AccountNotFound
    return account


def change_password(
    uow: UnitOfWork,
    clock: Clock,
    hasher: PasswordHasher,
    limits: Limits,
    *,
    account_id: UUID,
    current_password: str,
    new_password: str,
    client: str,
) -> None:
    """Replace the password; every refresh token and every access token issued before dies.

    A wrong current password counts as a failure of the account and of the client address
    (the sign-in limit), so a stolen access token can't guess it without limit.
    """
    check_password(new_password, field_name="new_password")
    now = clock.now()
    with uow.reading():
        account = _load(uow, account_id)
    keys = failure_keys(email=account.email, client=client)
    throttle.check(uow, limits.failures, keys, now)
    if not hasher.verify(current_password, account.password_hash):
        throttle.fail(uow, keys, now)
        raise InvalidCredentials("the current password is wrong")
    new_hash = hasher.hash(new_password)
    with uow:
        account = _load(uow, account_id)
        uow.accounts.save(account.with_password(new_hash, now))
        uow.tokens.revoke_all(account_id, TokenKind.REFRESH, now)
        uow.commit()


def update_timezone(uow: UnitOfWork, clock: Clock, *, account_id: UUID, timezone: str) -> None:
    check_timezone(timezone)
    with uow:
        account = _load(uow, account_id)
        uow.accounts.save(account.with_timezone(timezone, clock.now()))
        uow.commit()


def delete_account(
    uow: UnitOfWork,
    clock: Clock,
    hasher: PasswordHasher,
    limits: Limits,
    *,
    account_id: UUID,
    password: str,
    code: str | None,
    client: str,
) -> None:
    """Delete the account and everything it owns, after the password (and 2FA code, when on).

    A wrong password or code counts as a failure under the sign-in limit.
    """
    now = clock.now()
    with uow.reading():
        account = _load(uow, account_id)
    keys = failure_keys(email=account.email, client=client)
    throttle.check(uow, limits.failures, keys, now)
    if not hasher.verify(password, account.password_hash):
        throttle.fail(uow, keys, now)
        raise InvalidCredentials("the password is wrong")
    with uow:
        account = _load(uow, account_id)
        if account.totp_enabled and (
            not code
            or account.totp is None
            or totp.accept_code(account.totp, code, now, allow_backup=True) is None
        ):
            throttle.record(uow.attempts, keys, now)
            uow.commit()
            raise InvalidTotpCode
        uow.accounts.delete(account_id)
        uow.commit()


def request_password_reset(
    uow: UnitOfWork,
    clock: Clock,
    mailer: Mailer,
    limits: Limits,
    background: Background,
    *,
    email: str,
    client: str,
    public_url: str,
) -> None:
    """Mail a single-use reset link if the address has an account; silent either way.

    The request only counts itself against the client's limit and hands the rest (finding
    the account, storing a token, mailing the link) to `background`: the caller's answer is
    the same work whether the address exists or not, so its timing tells nothing.
    """
    now = clock.now()
    keys = [f"reset:client:{client}"]
    with uow:
        throttle.ensure_below(uow.attempts, limits.reset_requests, keys, now)
        throttle.record(uow.attempts, keys, now)
        uow.commit()
    background.submit(
        functools.partial(
            mail_reset_link,
            uow,
            clock,
            mailer,
            email=email_normal_form(email),
            public_url=public_url,
        )
    )


def mail_reset_link(
    uow: UnitOfWork, clock: Clock, mailer: Mailer, *, email: str, public_url: str
) -> None:
    """Store a reset token for the account of `email` (its normal form) and mail the link;
    nothing when no account has it."""
    now = clock.now()
    token, plain = IssuedToken.issue(
        kind=TokenKind.PASSWORD_RESET, account_id=UUID(int=0), now=now, ttl=RESET_TTL
    )
    with uow:
        account = uow.accounts.by_email(email)
        if account is None:
            return
        uow.tokens.add(evolve(token, account_id=account.id))
        uow.commit()
    link = f"{public_url.rstrip('/')}/reset-password?token={plain}"
    mailer.send(
        to=account.email,
        subject="Reset your hookmail password",
        body=(
            "Someone asked to reset the password of your hookmail account.\n\n"
            f"To choose a new password, open this link within 60 minutes:\n{link}\n\n"
            "If it was not you, ignore this mail; your password stays as it is.\n"
        ),
    )


def confirm_password_reset(
    uow: UnitOfWork,
    clock: Clock,
    hasher: PasswordHasher,
    limits: Limits,
    *,
    token: str,
    new_password: str,
    client: str,
) -> None:
    """Set a new password with a reset token (single use, 60 minutes); revokes every session."""
    check_password(new_password, field_name="new_password")
    now = clock.now()
    keys = [f"fail:client:{client}"]
    with uow:
        throttle.ensure_below(uow.attempts, limits.failures, keys, now)
        stored = uow.tokens.by_hash(TokenKind.PASSWORD_RESET, digest(token))
        if stored is None or not stored.usable(now):
            throttle.record(uow.attempts, keys, now)
            uow.commit()
            raise InvalidToken("the reset token is invalid, expired or already used")
    new_hash = hasher.hash(new_password)
    with uow:
        stored = uow.tokens.by_hash(TokenKind.PASSWORD_RESET, digest(token))
        account = uow.accounts.get(stored.account_id) if stored else None
        if stored is None or account is None or not stored.usable(now):
            raise InvalidToken("the reset token is invalid, expired or already used")
        uow.tokens.save(stored.used(now))
        uow.accounts.save(account.with_password(new_hash, now))
        uow.tokens.revoke_all(account.id, TokenKind.REFRESH, now)
        uow.tokens.revoke_all(account.id, TokenKind.PASSWORD_RESET, now)
        uow.commit()
