"""SMTP AUTH's use case on every store (the fake, SQLite, PostgreSQL): what a login costs in
hashes, how credentials from before keyed salts are found and upgraded, and the failure
limits kept in the store."""

from __future__ import annotations

import threading
from datetime import timedelta
from uuid import UUID

import pytest

from hookmail.adapters.memory import FixedClock, PlainCredentialHasher
from hookmail.core.ports import UnitOfWork
from hookmail.core.services import smtp_auth
from hookmail.core.services.smtp_auth import LoggedIn, LoginFailed, LoginThrottled
from hookmail.core.smtp_policies import Credential
from hookmail.core.throttle import Limit
from tests.builders import a_policy, an_account

LIMIT = Limit(10, timedelta(minutes=15))


class CountingHasher(PlainCredentialHasher):
    """The fake hasher, counting what would cost an argon2 computation."""

    def __init__(self) -> None:
        self.hashes = 0
        self._lock = threading.Lock()

    def hash(self, user: str, password: str) -> str:
        with self._lock:
            self.hashes += 1
        return super().hash(user, password)

    def verify(self, user: str, password: str, hashed: str) -> bool:
        with self._lock:
            self.hashes += 1
        return super().verify(user, password, hashed)


def _policies(uow: UnitOfWork, *pairs: list[Credential], accounts: int = 1) -> list[UUID]:
    owners = [an_account() for _ in range(accounts)]
    made = [
        a_policy(owners[n % accounts].id, smtp_credentials=tuple(p)) for n, p in enumerate(pairs)
    ]
    with uow:
        for owner in owners:
            uow.accounts.add(owner)
        for policy in made:
            uow.policies.save(policy)
        uow.commit()
    return [p.id for p in made]


def _login(
    uow: UnitOfWork,
    hasher: CountingHasher,
    user: str,
    password: str,
    *,
    client: str = "192.0.2.1",
    clock: FixedClock | None = None,
) -> smtp_auth.LoginOutcome:
    return smtp_auth.authenticate(
        uow, clock or FixedClock(), hasher, LIMIT, user=user, password=password, client=client
    )


def test_a_login_among_twenty_policies_of_two_accounts_costs_one_hash(uow: UnitOfWork) -> None:
    keyed = CountingHasher()
    pairs = [
        [Credential("admin", keyed.hash("admin", f"pw-{n}")), Credential(f"u{n}", "x")]
        for n in range(20)
    ]
    ids = _policies(uow, *pairs, accounts=2)
    keyed.hashes = 0
    assert _login(uow, keyed, "admin", "pw-7") == LoggedIn("admin", frozenset({ids[7]}))
    assert keyed.hashes == 1
    assert _login(uow, keyed, "admin", "wrong") == LoginFailed()
    assert keyed.hashes == 2


def test_equal_pairs_in_two_policies_log_in_to_both(uow: UnitOfWork) -> None:
    keyed = CountingHasher()
    same = Credential("relay", keyed.hash("relay", "s3cret-pass"))
    ids = _policies(uow, [same], [same], [Credential("relay", keyed.hash("relay", "other"))])
    assert _login(uow, keyed, "relay", "s3cret-pass") == LoggedIn("relay", frozenset(ids[:2]))


def test_a_credential_from_before_keyed_salts_works_once_verified_then_costs_one_hash(
    uow: UnitOfWork,
) -> None:
    keyed = CountingHasher()
    legacy = Credential("relay", "plain$s3cret-pass")  # randomly salted, in the fake's terms
    (policy_id,) = _policies(uow, [legacy])
    assert _login(uow, keyed, "relay", "wrong") == LoginFailed()
    assert keyed.hashes == 2  # the keyed hash, then the old one verified alone
    keyed.hashes = 0
    assert _login(uow, keyed, "relay", "s3cret-pass") == LoggedIn("relay", frozenset({policy_id}))
    with uow.reading():
        stored = uow.policies.get(policy_id)
    assert stored is not None
    assert stored.smtp_credentials == (Credential("relay", keyed.hash("relay", "s3cret-pass")),)
    keyed.hashes = 0
    assert _login(uow, keyed, "relay", "s3cret-pass") == LoggedIn("relay", frozenset({policy_id}))
    assert keyed.hashes == 1


def test_the_eleventh_failure_from_one_address_is_throttled_until_the_window_passes(
    uow: UnitOfWork,
) -> None:
    keyed = CountingHasher()
    (policy_id,) = _policies(uow, [Credential("relay", keyed.hash("relay", "right"))])
    clock = FixedClock()
    for n in range(10):
        assert _login(uow, keyed, f"user{n}", "wrong", clock=clock) == LoginFailed()
    keyed.hashes = 0
    outcome = _login(uow, keyed, "relay", "right", clock=clock)
    assert isinstance(outcome, LoginThrottled)
    assert 0 < outcome.retry_after <= 900
    assert keyed.hashes == 0  # a throttled attempt costs no hash
    assert _login(uow, keyed, "relay", "right", client="192.0.2.2", clock=clock) == LoggedIn(
        "relay", frozenset({policy_id})
    )
    clock.advance(minutes=15, seconds=1)
    assert isinstance(_login(uow, keyed, "relay", "right", clock=clock), LoggedIn)


def test_the_eleventh_failure_for_one_user_name_is_throttled_from_any_address(
    uow: UnitOfWork,
) -> None:
    keyed = CountingHasher()
    _policies(uow, [Credential("relay", keyed.hash("relay", "right"))])
    clock = FixedClock()
    for n in range(10):
        outcome = _login(uow, keyed, "relay", "wrong", client=f"198.51.100.{n}", clock=clock)
        assert outcome == LoginFailed()
    outcome = _login(uow, keyed, "relay", "right", client="203.0.113.9", clock=clock)
    assert isinstance(outcome, LoginThrottled)
    other = _login(uow, keyed, "other", "x", client="203.0.113.9", clock=clock)
    assert other == LoginFailed()


@pytest.mark.parametrize(
    ("user", "password"),
    [("a\x00b", "pw"), ("x" * 256, "pw"), ("relay", "p" * 257), ("\ud800", "pw")],
)
def test_names_and_passwords_no_credential_can_have_fail_without_a_hash(
    uow: UnitOfWork, user: str, password: str
) -> None:
    keyed = CountingHasher()
    _policies(uow, [Credential("relay", keyed.hash("relay", "right"))])
    keyed.hashes = 0
    assert _login(uow, keyed, user, password) == LoginFailed()
    assert keyed.hashes == 0


def test_rehash_leaves_a_credential_changed_meanwhile(uow: UnitOfWork) -> None:
    (policy_id,) = _policies(uow, [Credential("relay", "new-hash")])
    with uow:
        uow.policies.rehash(policy_id, "relay", old="old-hash", new="keyed-hash")
        uow.commit()
    with uow.reading():
        stored = uow.policies.get(policy_id)
    assert stored is not None
    assert stored.smtp_credentials == (Credential("relay", "new-hash"),)


def test_a_removed_credential_is_gone_from_logins(uow: UnitOfWork) -> None:
    keyed = CountingHasher()
    digest = keyed.hash("relay", "right")
    (policy_id,) = _policies(uow, [Credential("relay", digest), Credential("other", "x")])
    with uow:
        policy = uow.policies.get(policy_id)
        assert policy is not None
        uow.policies.save(policy.changed(policy.updated_at, smtp_credentials=()))
        uow.commit()
    with uow.reading():
        assert uow.policies.logins("relay", digest=digest, keyed_prefix="keyed$relay$") == []
    with uow:
        uow.policies.delete(policy_id)
        uow.commit()


def test_a_login_keeps_only_the_policies_that_still_hold_its_credential(uow: UnitOfWork) -> None:
    keyed = CountingHasher()
    same = Credential("relay", keyed.hash("relay", "s3cret-pass"))
    first, second = _policies(uow, [same], [same])
    login = _login(uow, keyed, "relay", "s3cret-pass")
    assert isinstance(login, LoggedIn)
    assert smtp_auth.still_logged_in(uow, login).policies == {first, second}
    with uow:
        policy = uow.policies.get(second)
        assert policy is not None
        changed = (Credential("relay", keyed.hash("relay", "new-pass")),)
        uow.policies.save(policy.changed(policy.updated_at, smtp_credentials=changed))
        uow.commit()
    keyed.hashes = 0
    assert smtp_auth.still_logged_in(uow, login).policies == {first}
    assert keyed.hashes == 0
    with uow:
        uow.policies.delete(first)
        uow.commit()
    assert smtp_auth.still_logged_in(uow, login).policies == frozenset()
