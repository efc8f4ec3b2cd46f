"""The SQLAlchemy unit of work: one session, one transaction per `with` block."""

from __future__ import annotations

from typing import Self

from sqlalchemy.orm import Session, sessionmaker

from hookmail.adapters.sql.domains import SqlDomainRepository
from hookmail.adapters.sql.engine import READ_ONLY
from hookmail.adapters.sql.mail import SqlJobRepository, SqlMessageRepository
from hookmail.adapters.sql.policies import SqlPolicyRepository
from hookmail.adapters.sql.repositories import (
    SqlAccountRepository,
    SqlAttemptLog,
    SqlConfigStore,
    SqlTokenRepository,
)
from hookmail.adapters.sql.webhooks import SqlDeliveryLogRepository, SqlWebhookRepository


class SqlUnitOfWork:
    """Opens a session on enter; rolls back (unless committed) and closes on exit."""

    accounts: SqlAccountRepository
    tokens: SqlTokenRepository
    attempts: SqlAttemptLog
    config: SqlConfigStore
    domains: SqlDomainRepository
    policies: SqlPolicyRepository
    webhooks: SqlWebhookRepository
    delivery_logs: SqlDeliveryLogRepository
    messages: SqlMessageRepository
    jobs: SqlJobRepository

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
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
        self.attempts = SqlAttemptLog(session)
        self.config = SqlConfigStore(session)
        self.domains = SqlDomainRepository(session)
        self.policies = SqlPolicyRepository(session)
        self.webhooks = SqlWebhookRepository(session)
        self.delivery_logs = SqlDeliveryLogRepository(session)
        self.messages = SqlMessageRepository(session)
        self.jobs = SqlJobRepository(session)
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
        self._session.commit()
