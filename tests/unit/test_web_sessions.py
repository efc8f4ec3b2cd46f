"""Dashboard sessions over the fakes: the API's sign-in rules, and every way a session ends."""

from __future__ import annotations

import pyotp
import pytest

from hookmail.adapters.memory import (
    FakeAccessTokens,
    FixedClock,
    InMemoryUnitOfWork,
    PermissiveEmailSyntax,
    PlainPasswordHasher,
)
from hookmail.core.errors import InvalidCredentials, InvalidToken, RateLimited
from hookmail.core.services import accounts, sessions, two_factor, web_sessions
from hookmail.core.services.sessions import TotpChallenge
from hookmail.core.services.web_sessions import OpenedWebSession
from hookmail.core.throttle import Limits
from hookmail.core.web_sessions import WEB_SESSION_TTL

EMAIL, PASSWORD = "alice@example.com", "password1"


@pytest.fixture
def uow() -> InMemoryUnitOfWork:
    uow = InMemoryUnitOfWork()
    accounts.sign_up(
        uow,
        FixedClock(),
        PlainPasswordHasher(),
        PermissiveEmailSyntax(),
        Limits(),
        email=EMAIL,
        password=PASSWORD,
        client="c",
    )
    return uow


def _open(uow: InMemoryUnitOfWork, clock: FixedClock, password: str = PASSWORD) -> OpenedWebSession:
    opened = web_sessions.sign_in(
        uow, clock, PlainPasswordHasher(), Limits(), email=EMAIL, password=password, client="c"
    )
    assert isinstance(opened, OpenedWebSession)
    return opened


def test_a_session_lives_until_signed_out(uow: InMemoryUnitOfWork) -> None:
    clock = FixedClock()
    opened = _open(uow, clock)
    assert web_sessions.signed_in_account(uow, clock, token=opened.token).email == EMAIL
    web_sessions.sign_out(uow, token=opened.token)
    with pytest.raises(InvalidToken):
        web_sessions.signed_in_account(uow, clock, token=opened.token)


def test_a_session_expires(uow: InMemoryUnitOfWork) -> None:
    clock = FixedClock()
    opened = _open(uow, clock)
    clock.advance(seconds=WEB_SESSION_TTL.total_seconds())
    with pytest.raises(InvalidToken):
        web_sessions.signed_in_account(uow, clock, token=opened.token)


def test_a_password_change_ends_every_other_session_and_keeps_the_changer_in(
    uow: InMemoryUnitOfWork,
) -> None:
    clock = FixedClock()
    mine, other = _open(uow, clock), _open(uow, clock)
    renewed = web_sessions.change_password(
        uow,
        clock,
        PlainPasswordHasher(),
        Limits(),
        token=mine.token,
        current_password=PASSWORD,
        new_password="a new password",
        client="c",
    )
    assert web_sessions.signed_in_account(uow, clock, token=renewed.token).email == EMAIL
    for ended in (mine, other):
        with pytest.raises(InvalidToken):
            web_sessions.signed_in_account(uow, clock, token=ended.token)


def test_deleting_the_account_ends_its_sessions(uow: InMemoryUnitOfWork) -> None:
    clock = FixedClock()
    opened = _open(uow, clock)
    accounts.delete_account(
        uow,
        clock,
        PlainPasswordHasher(),
        Limits(),
        account_id=opened.account_id,
        password=PASSWORD,
        code=None,
        client="c",
    )
    with pytest.raises(InvalidToken):
        web_sessions.signed_in_account(uow, clock, token=opened.token)


def test_with_2fa_on_the_session_opens_only_after_a_code(uow: InMemoryUnitOfWork) -> None:
    clock = FixedClock()
    account_id = _open(uow, clock).account_id
    setup = two_factor.setup_totp(uow, clock, account_id=account_id)
    code = pyotp.TOTP(setup.secret).at(clock.now())
    two_factor.enable_totp(uow, clock, Limits(), account_id=account_id, code=code, client="c")
    clock.advance(seconds=30)
    challenge = web_sessions.sign_in(
        uow, clock, PlainPasswordHasher(), Limits(), email=EMAIL, password=PASSWORD, client="c"
    )
    assert isinstance(challenge, TotpChallenge)
    opened = web_sessions.complete_totp(
        uow,
        clock,
        Limits(),
        challenge=challenge.token,
        code=pyotp.TOTP(setup.secret).at(clock.now()),
        client="c",
    )
    assert web_sessions.signed_in_account(uow, clock, token=opened.token).id == account_id


def test_dashboard_and_api_sign_ins_share_one_failure_count(uow: InMemoryUnitOfWork) -> None:
    clock, limits = FixedClock(), Limits()
    for _ in range(limits.failures.count):
        with pytest.raises(InvalidCredentials):
            _open(uow, clock, password="wrong password")
    with pytest.raises(RateLimited):
        sessions.sign_in(
            uow,
            clock,
            PlainPasswordHasher(),
            FakeAccessTokens(),
            limits,
            email=EMAIL,
            password=PASSWORD,
            client="another client",
        )
