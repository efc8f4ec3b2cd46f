"""Use cases over the in-memory fakes: the core works with no I/O at all."""

from __future__ import annotations

import subprocess
import sys

import pytest

from hookmail.adapters.memory import (
    FakeAccessTokens,
    FixedClock,
    InlineBackground,
    InMemoryUnitOfWork,
    PermissiveEmailSyntax,
    PlainPasswordHasher,
    RecordingMailer,
)
from hookmail.core.errors import EmailTaken, InvalidCredentials, InvalidToken
from hookmail.core.services import accounts, sessions
from hookmail.core.services.keys import shared_secret_key
from hookmail.core.services.sessions import Session
from hookmail.core.throttle import Limits


@pytest.fixture
def uow() -> InMemoryUnitOfWork:
    return InMemoryUnitOfWork()


def _sign_up(uow: InMemoryUnitOfWork, email: str = "Alice@Example.com") -> None:
    accounts.sign_up(
        uow,
        FixedClock(),
        PlainPasswordHasher(),
        PermissiveEmailSyntax(),
        Limits(),
        email=email,
        password="password1",
        client="c",
    )


def _sign_in(
    uow: InMemoryUnitOfWork, clock: FixedClock, tokens: FakeAccessTokens
) -> Session | sessions.TotpChallenge:
    return sessions.sign_in(
        uow,
        clock,
        PlainPasswordHasher(),
        tokens,
        Limits(),
        email="alice@example.com",
        password="password1",
        client="c",
    )


def test_sign_up_then_sign_in_then_authenticate(uow: InMemoryUnitOfWork) -> None:
    clock, tokens = FixedClock(), FakeAccessTokens()
    _sign_up(uow)
    session = _sign_in(uow, clock, tokens)
    assert isinstance(session, Session)
    account_id = sessions.authenticate(uow, clock, tokens, bearer=session.access_token)
    assert accounts.get_account(uow, account_id=account_id).email == "alice@example.com"


def test_duplicate_sign_up_is_refused(uow: InMemoryUnitOfWork) -> None:
    _sign_up(uow)
    with pytest.raises(EmailTaken):
        _sign_up(uow, "ALICE@example.com")


def test_a_wrong_password_is_recorded_as_a_failure(uow: InMemoryUnitOfWork) -> None:
    _sign_up(uow)
    with pytest.raises(InvalidCredentials):
        sessions.sign_in(
            uow,
            FixedClock(),
            PlainPasswordHasher(),
            FakeAccessTokens(),
            Limits(),
            email="alice@example.com",
            password="nope-nope",
            client="c",
        )
    with uow:
        assert len(uow.attempts.since("fail:client:c", FixedClock().now().replace(year=2000))) == 1


def test_a_password_change_revokes_access_tokens(uow: InMemoryUnitOfWork) -> None:
    clock, tokens = FixedClock(), FakeAccessTokens()
    _sign_up(uow)
    session = _sign_in(uow, clock, tokens)
    assert isinstance(session, Session)
    account_id = sessions.authenticate(uow, clock, tokens, bearer=session.access_token)
    accounts.change_password(
        uow,
        clock,
        PlainPasswordHasher(),
        Limits(),
        account_id=account_id,
        current_password="password1",
        new_password="password2",
        client="c",
    )
    with pytest.raises(InvalidToken):
        sessions.authenticate(uow, clock, tokens, bearer=session.access_token)


def test_reset_mail_goes_only_to_existing_accounts(uow: InMemoryUnitOfWork) -> None:
    mailer = RecordingMailer()
    _sign_up(uow)
    for email in ("nobody@example.com", "alice@example.com"):
        accounts.request_password_reset(
            uow,
            FixedClock(),
            mailer,
            Limits(),
            InlineBackground(),
            email=email,
            client="c",
            public_url="https://h.example",
        )
    assert [m.to for m in mailer.sent] == ["alice@example.com"]
    assert "https://h.example/reset-password?token=" in mailer.sent[0].body


def test_the_signing_key_is_made_once_and_shared(uow: InMemoryUnitOfWork) -> None:
    first = shared_secret_key(uow)
    assert shared_secret_key(uow) == first
    assert len(first) >= 48


def test_the_core_imports_no_io_library() -> None:
    code = (
        "import sys, hookmail.core.services.accounts, hookmail.core.services.sessions, "
        "hookmail.core.services.two_factor, hookmail.core.ports\n"
        "bad = {'sqlalchemy', 'falcon', 'requests', 'dns', 'dkim', 'spf', 'aiosmtpd', 'jwt',"
        " 'passlib', 'psycopg', 'dependency_injector', 'gunicorn'} & set(sys.modules)\n"
        "print(sorted(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
