"""The store's part of quotas, on the fake, SQLite and PostgreSQL: counts per account, and
an account lock held until the transaction ends."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import Engine

from hookmail.adapters.sql.engine import make_sessions
from hookmail.adapters.sql.uow import SqlUnitOfWork
from hookmail.core.ports import UnitOfWork
from tests.builders import a_domain, a_policy, a_webhook, an_account
from tests.conftest import SQL_STORES, clean_engine


def test_counts_are_per_account(uow: UnitOfWork) -> None:
    alice, bob = an_account(email="alice@example.com"), an_account(email="bob@example.com")
    public = a_domain(None, "inbound.example", is_public=True, verified=True)
    own = [a_domain(alice.id, f"d{n}.example") for n in range(3)]
    with uow:
        uow.accounts.add(alice)
        uow.accounts.add(bob)
        for domain in [public, *own, a_domain(bob.id, "d0.example")]:
            uow.domains.save(domain)
        for n in range(2):
            uow.policies.save(a_policy(alice.id, name=f"p{n}"))
        uow.policies.save(a_policy(bob.id))
        for n in range(4):
            uow.webhooks.save(a_webhook(public, alice.id, local=f"a{n}"))
        uow.webhooks.save(a_webhook(own[0], alice.id, local="own"))
        uow.webhooks.save(a_webhook(public, bob.id, local="b"))
        uow.commit()
    with uow.reading():
        assert uow.domains.count_of_account(alice.id) == 3  # the public one is nobody's
        assert uow.domains.count_of_account(bob.id) == 1
        assert uow.policies.count_of_account(alice.id) == 2
        assert uow.webhooks.count_of_account(alice.id) == 5
        assert uow.webhooks.count_of_account(bob.id) == 1
        assert uow.webhooks.count_of_account(an_account().id) == 0


def test_locking_an_account_is_allowed_in_any_write_transaction(uow: UnitOfWork) -> None:
    account = an_account()
    with uow:
        uow.accounts.add(account)
        uow.commit()
    with uow:
        uow.accounts.lock(account.id)
        uow.accounts.lock(an_account().id)  # a missing account locks nothing, and is no error
        uow.commit()


@pytest.mark.parametrize("store", SQL_STORES)
def test_an_account_lock_holds_a_second_writer_until_the_first_ends(
    request: pytest.FixtureRequest, store: str
) -> None:
    engine: Engine = clean_engine(request, store)
    sessions = make_sessions(engine)
    account = an_account()
    with SqlUnitOfWork(sessions) as setup:
        setup.accounts.add(account)
        setup.commit()
    first, second = SqlUnitOfWork(sessions), SqlUnitOfWork(sessions)
    order: list[str] = []
    locked = threading.Event()

    def contender() -> None:
        locked.wait(timeout=30)
        with second:
            second.accounts.lock(account.id)
            order.append("second locked")
            second.commit()

    thread = threading.Thread(target=contender)
    thread.start()
    with first:
        first.accounts.lock(account.id)
        locked.set()
        thread.join(timeout=0.5)  # the contender is held meanwhile, not finished
        order.append("first commits")
        first.commit()
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert order == ["first commits", "second locked"]
