"""SQLAlchemy repositories: domain models in, domain models out."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import delete, exists, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hookmail.adapters.sql.rows import (
    AccountRow,
    AttemptRow,
    ConfigRow,
    IssuedTokenRow,
    JobRow,
    MessageRow,
)
from hookmail.core.accounts import Account, Totp
from hookmail.core.errors import EmailTaken
from hookmail.core.tokens import IssuedToken, TokenKind


def _account(row: AccountRow) -> Account:
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


def _account_row(account: Account) -> AccountRow:
    totp = account.totp
    return AccountRow(
        id=account.id,
        email=account.email,
        password_hash=account.password_hash,
        timezone=account.timezone,
        token_version=account.token_version,
        totp_secret=totp.secret if totp else None,
        totp_enabled=bool(totp and totp.enabled),
        totp_last_counter=totp.last_counter if totp else -1,
        backup_code_hashes=" ".join(totp.backup_code_hashes) if totp else "",
        created_at=account.created_at,
        updated_at=account.updated_at,
    )


class SqlAccountRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def get(self, account_id: UUID) -> Account | None:
        row = self._session.get(AccountRow, account_id)
        return _account(row) if row else None

    def by_email(self, email: str) -> Account | None:
        row = self._session.scalars(select(AccountRow).where(AccountRow.email == email)).first()
        return _account(row) if row else None

    def add(self, account: Account) -> None:
        self._session.add(_account_row(account))
        try:
            self._session.flush()
        except IntegrityError as exc:  # email is the only unique key besides the id
            raise EmailTaken from exc

    def save(self, account: Account) -> None:
        self._session.merge(_account_row(account))
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


def _token(row: IssuedTokenRow) -> IssuedToken:
    return IssuedToken(
        id=row.id,
        kind=TokenKind(row.kind),
        account_id=row.account_id,
        token_hash=row.token_hash,
        family_id=row.family_id,
        created_at=row.created_at,
        expires_at=row.expires_at,
        used_at=row.used_at,
    )


def _token_row(token: IssuedToken) -> IssuedTokenRow:
    return IssuedTokenRow(
        id=token.id,
        kind=token.kind.value,
        account_id=token.account_id,
        token_hash=token.token_hash,
        family_id=token.family_id,
        created_at=token.created_at,
        expires_at=token.expires_at,
        used_at=token.used_at,
    )


class SqlTokenRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, token: IssuedToken) -> None:
        self._session.add(_token_row(token))
        self._session.flush()

    def by_hash(self, kind: TokenKind, token_hash: str) -> IssuedToken | None:
        # FOR UPDATE: two requests racing with one refresh token must not both rotate it.
        row = self._session.scalars(
            select(IssuedTokenRow)
            .where(IssuedTokenRow.kind == kind.value, IssuedTokenRow.token_hash == token_hash)
            .with_for_update()
        ).first()
        return _token(row) if row else None

    def save(self, token: IssuedToken) -> None:
        self._session.merge(_token_row(token))
        self._session.flush()

    def revoke_family(self, family_id: UUID, now: datetime) -> None:
        self._session.execute(
            update(IssuedTokenRow)
            .where(IssuedTokenRow.family_id == family_id, IssuedTokenRow.used_at.is_(None))
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )

    def revoke_all(self, account_id: UUID, kind: TokenKind, now: datetime) -> None:
        self._session.execute(
            update(IssuedTokenRow)
            .where(
                IssuedTokenRow.account_id == account_id,
                IssuedTokenRow.kind == kind.value,
                IssuedTokenRow.used_at.is_(None),
            )
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )

    def prune(self, before: datetime) -> None:
        self._session.execute(delete(IssuedTokenRow).where(IssuedTokenRow.expires_at < before))


class SqlAttemptLog:
    def __init__(self, session: Session) -> None:
        self._session = session

    def record(self, key: str, at: datetime) -> None:
        self._session.add(AttemptRow(key=key, at=at))
        self._session.flush()

    def since(self, key: str, since: datetime) -> list[datetime]:
        return list(
            self._session.scalars(
                select(AttemptRow.at)
                .where(AttemptRow.key == key, AttemptRow.at > since)
                .order_by(AttemptRow.at)
            )
        )

    def prune(self, before: datetime) -> None:
        self._session.execute(delete(AttemptRow).where(AttemptRow.at < before))


class SqlConfigStore:
    def __init__(self, session: Session) -> None:
        self._session = session

    def get(self, name: str) -> str | None:
        row = self._session.get(ConfigRow, name)
        return row.value if row else None

    def put_if_absent(self, name: str, value: str) -> None:
        dialect = self._session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        self._session.execute(
            insert(ConfigRow).values(name=name, value=value).on_conflict_do_nothing()
        )
