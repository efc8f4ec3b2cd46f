"""The SQLAlchemy unit of work: one session, one transaction per `with` block."""

from __future__ import annotations

from typing import Any, Self

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction, sessionmaker

from hookmail.adapters.notify import (
    JOBS,
    ROUTES,
    Notifier,
    PgNotifier,
    pg_notify,
)
from hookmail.adapters.sql import raw
from hookmail.adapters.sql.accounts import SqlAccountRepository
from hookmail.adapters.sql.activity import SqlActivityReport
from hookmail.adapters.sql.attempts import SqlAttemptLog
from hookmail.adapters.sql.config import SqlConfigStore
from hookmail.adapters.sql.deliveries import SqlDeliveryLogRepository, SqlJobRepository
from hookmail.adapters.sql.domains import SqlDomainRepository
from hookmail.adapters.sql.engine import READ_ONLY
from hookmail.adapters.sql.mail import SqlMessageRepository
from hookmail.adapters.sql.policies import SqlPolicyRepository
from hookmail.adapters.sql.tokens import SqlTokenRepository
from hookmail.adapters.sql.web_sessions import SqlWebSessionRepository
from hookmail.adapters.sql.webhooks import SqlWebhookRepository
from hookmail.adapters.sql.writes import TOUCHED, touch

# Writes to these tables change how RCPT TO is answered: SMTP workers drop their route cache.
_ROUTE_TABLES = frozenset({"webhooks", "domains", "smtp_policies", "accounts"})


def _on_execute(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        table: Any = getattr(state.statement, "table", None)
        name = getattr(table, "name", None)
        if name:
            touch(state.session, name, "insert" if state.is_insert else "change")


def _on_flush(session: Session, _context: UOWTransaction) -> None:
    for kind, objects in (("insert", session.new), ("change", session.dirty)):
        for obj in objects:
            touch(session, obj.__table__.name, kind)
    for obj in session.deleted:
        touch(session, obj.__table__.name, "change")


def track_writes(sessions: sessionmaker[Session]) -> None:
    """Record which tables each session of a new sessionmaker writes, for notices() at
    commit. (No `event.contains()` guard: SQLAlchemy's listener registry is keyed by the
    target's id(), and a sessionmaker freed just before, whose registry entries are not yet
    collected, could hand its id to this one; the check then said "registered" and the
    notices of every write were lost, a rare failure of test_notices.py.)"""
    event.listen(sessions, "do_orm_execute", _on_execute)
    event.listen(sessions, "after_flush", _on_flush)


def notices(touched: set[tuple[str, str]]) -> set[str]:
    """Which notices a transaction's writes call for (see adapters/notify.py)."""
    found = set()
    if ("delivery_jobs", "insert") in touched:
        found.add(JOBS)
    if any(table in _ROUTE_TABLES for table, _ in touched):
        found.add(ROUTES)
    return found


class SqlUnitOfWork:
    """Opens a session on enter; rolls back (unless committed) and closes on exit."""

    accounts: SqlAccountRepository
    tokens: SqlTokenRepository
    web_sessions: SqlWebSessionRepository
    attempts: SqlAttemptLog
    config: SqlConfigStore
    domains: SqlDomainRepository
    policies: SqlPolicyRepository
    webhooks: SqlWebhookRepository
    delivery_logs: SqlDeliveryLogRepository
    messages: SqlMessageRepository
    jobs: SqlJobRepository
    activity: SqlActivityReport

    def __init__(self, sessions: sessionmaker[Session], notifier: Notifier | None = None) -> None:
        self._sessions = sessions
        self._notifier = notifier
        self._session: Session | None = None
        self._read_only = False

    def reading(self) -> Self:
        self._read_only = True
        return self

    def __enter__(self) -> Self:
        session = self._sessions()
        if self._read_only:
            session.connection(execution_options={READ_ONLY: True})
        self._session = session
        self.accounts = SqlAccountRepository(session)
        self.tokens = SqlTokenRepository(session)
        self.web_sessions = SqlWebSessionRepository(session)
        self.attempts = SqlAttemptLog(session)
        self.config = SqlConfigStore(session)
        self.domains = SqlDomainRepository(session)
        self.policies = SqlPolicyRepository(session)
        self.webhooks = SqlWebhookRepository(session)
        self.delivery_logs = SqlDeliveryLogRepository(session)
        self.messages = SqlMessageRepository(session)
        self.jobs = SqlJobRepository(session)
        self.activity = SqlActivityReport(session)
        return self

    def __exit__(self, *exc: object) -> None:
        self._read_only = False
        if self._session is not None:
            self._session.rollback()
            self._session.close()
            self._session = None

    def commit(self) -> None:
        if self._session is None:
            raise RuntimeError("commit() outside a `with` block")
        if self._read_only:
            raise RuntimeError("commit() in a reading() block")
        if self._notifier is None:
            self._session.flush()
            raw.commit(self._session)
            self._session.commit()
            return
        self._session.flush()
        wanted = notices(self._session.info.pop(TOUCHED, set()))
        # NOTIFYs are delivered by PostgreSQL only if the transaction commits; sent with the
        # writes kept back and the COMMIT, in one round trip (raw.commit)
        notifying = wanted if isinstance(self._notifier, PgNotifier) else set()
        raw.commit(self._session, [pg_notify(channel) for channel in sorted(notifying)])
        self._session.info.pop(TOUCHED, None)
        self._session.commit()
        if wanted and not isinstance(self._notifier, PgNotifier):
            self._notifier.notify(wanted)
