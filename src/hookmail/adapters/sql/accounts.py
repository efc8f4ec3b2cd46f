"""Accounts in SQL: sign-up, TOTP state, and deleting an account with all it owns."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import delete, exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hookmail.adapters.sql.rows import AccountRow, JobRow, MessageRow
from hookmail.core.accounts import Account, Totp
from hookmail.core.errors import EmailTaken


def _account_from_row(row: AccountRow) -> Account:
    totp = None
    if row.totp_secret is not None:
        totp = Totp(
            secret=row.totp_secret,
            enabled=row.totp_enabled,
            last_counter=row.totp_last_counter,
            backup_code_hashes=tuple(row.backup_code_hashes.split()),
        )
    return Account(
        id=row.id,
        email=row.email,
        password_hash=row.password_hash,
        timezone=row.timezone,
        token_version=row.token_version,
        totp=totp,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _account_values(account: Account) -> dict[str, object]:
    totp = account.totp
    return {
        "id": account.id,
        "email": account.email,
        "password_hash": account.password_hash,
        "timezone": account.timezone,
        "token_version": account.token_version,
        "totp_secret": totp.secret if totp else None,
        "totp_enabled": bool(totp and totp.enabled),
        "totp_last_counter": totp.last_counter if totp else -1,
        "backup_code_hashes": " ".join(totp.backup_code_hashes) if totp else "",
        "created_at": account.created_at,
        "updated_at": account.updated_at,
    }


class SqlAccountRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def get(self, account_id: UUID) -> Account | None:
        row = self._session.get(AccountRow, account_id)
        return _account_from_row(row) if row else None

    def by_email(self, email: str) -> Account | None:
        row = self._session.scalars(select(AccountRow).where(AccountRow.email == email)).first()
        return _account_from_row(row) if row else None

    def add(self, account: Account) -> None:
        self._session.add(AccountRow(**_account_values(account)))
        try:
            self._session.flush()
        except IntegrityError as exc:  # email is the only unique key besides the id
            raise EmailTaken from exc

    def save(self, account: Account) -> None:
        self._session.merge(AccountRow(**_account_values(account)))
        self._session.flush()

    def lock(self, account_id: UUID) -> None:
        # FOR UPDATE on PostgreSQL; SQLite's write transactions are serial (BEGIN IMMEDIATE)
        self._session.execute(
            select(AccountRow.id).where(AccountRow.id == account_id).with_for_update()
        )

    def delete(self, account_id: UUID) -> None:
        # Foreign keys cascade to everything the account owns, queued jobs included; then
        # the messages no other account's job still needs go too.
        self._session.execute(delete(AccountRow).where(AccountRow.id == account_id))
        self._session.execute(
            delete(MessageRow).where(~exists().where(JobRow.message_id == MessageRow.id))
        )
