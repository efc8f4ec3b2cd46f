"""TOTP two-factor authentication: setup, enable, disable, backup codes."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from attrs import evolve, frozen

from hookmail.core import throttle, totp
from hookmail.core.accounts import Account, Totp
from hookmail.core.errors import (
    AccountNotFound,
    InvalidTotpCode,
    TotpAlreadyEnabled,
    TotpNotEnabled,
    TotpNotSetUp,
)
from hookmail.core.ports import Clock, UnitOfWork
from hookmail.core.services.sessions import failure_keys
from hookmail.core.throttle import Limits


@frozen
class TotpSetup:
    secret: str
    otpauth_url: str


def _load(uow: UnitOfWork, account_id: UUID) -> Account:
    account = uow.accounts.get(account_id)
    if account is None:
        raise AccountNotFound
    return account


def setup_totp(uow: UnitOfWork, clock: Clock, *, account_id: UUID) -> TotpSetup:
    """Start (or restart) setup with a fresh secret; 2FA stays off until enabled with a code."""
    with uow:
        account = _load(uow, account_id)
        if account.totp_enabled:
            raise TotpAlreadyEnabled
        state = totp.new_totp()
        uow.accounts.save(account.with_totp(state, clock.now()))
        uow.commit()
    return TotpSetup(
        secret=state.secret, otpauth_url=totp.provisioning_uri(state.secret, account.email)
    )


def enable_totp(
    uow: UnitOfWork, clock: Clock, limits: Limits, *, account_id: UUID, code: str, client: str
) -> list[str]:
    """Turn 2FA on with a current code; answer ten single-use backup codes (shown once).

    Like every request that checks a code, a wrong one counts under the sign-in limit."""
    now = clock.now()
    with uow:
        account = _load(uow, account_id)
        if account.totp is None:
            raise TotpNotSetUp
        if account.totp.enabled:
            raise TotpAlreadyEnabled
        keys = failure_keys(email=account.email, client=client)
        throttle.ensure_below(uow.attempts, limits.failures, keys, now)
        accepted = totp.accept_code(account.totp, code, now, allow_backup=False)
        if accepted is None:
            throttle.record(uow.attempts, keys, now)
            uow.commit()
            raise InvalidTotpCode
        codes, hashes = totp.new_backup_codes()
        state = evolve(accepted, enabled=True, backup_code_hashes=hashes)
        uow.accounts.save(account.with_totp(state, now))
        uow.commit()
    return codes


def _accept_current_code(
    uow: UnitOfWork, limits: Limits, account: Account, code: str, now: datetime, client: str
) -> Totp:
    """The account's TOTP state after accepting a current code (not a backup code).

    Inside the caller's transaction: refuses once the sign-in limit is reached, and counts
    a wrong code (committed here, since the caller's work is then abandoned)."""
    if account.totp is None or not account.totp.enabled:
        raise TotpNotEnabled
    keys = failure_keys(email=account.email, client=client)
    throttle.ensure_below(uow.attempts, limits.failures, keys, now)
    accepted = totp.accept_code(account.totp, code, now, allow_backup=False)
    if accepted is None:
        throttle.record(uow.attempts, keys, now)
        uow.commit()
        raise InvalidTotpCode
    return accepted


def disable_totp(
    uow: UnitOfWork, clock: Clock, limits: Limits, *, account_id: UUID, code: str, client: str
) -> None:
    """Turn 2FA off; takes a current TOTP code."""
    now = clock.now()
    with uow:
        account = _load(uow, account_id)
        _accept_current_code(uow, limits, account, code, now, client)
        uow.accounts.save(account.with_totp(None, now))
        uow.commit()


def regenerate_backup_codes(
    uow: UnitOfWork, clock: Clock, limits: Limits, *, account_id: UUID, code: str, client: str
) -> list[str]:
    """Replace every backup code; takes a current TOTP code."""
    now = clock.now()
    with uow:
        account = _load(uow, account_id)
        accepted = _accept_current_code(uow, limits, account, code, now, client)
        codes, hashes = totp.new_backup_codes()
        state = evolve(accepted, backup_code_hashes=hashes)
        uow.accounts.save(account.with_totp(state, now))
        uow.commit()
    return codes
