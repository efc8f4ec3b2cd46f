"""The store contract: the in-memory fake, SQLite and PostgreSQL behave alike."""

from __future__ import annotations

from datetime import timedelta

import pytest
from attrs import evolve

from hookmail.core.accounts import Totp
from hookmail.core.errors import EmailTaken
from hookmail.core.ports import UnitOfWork
from hookmail.core.tokens import TokenKind
from tests.builders import NOW, a_token, an_account


def test_an_account_round_trips_with_its_second_factor(uow: UnitOfWork) -> None:
    account = an_account(
        totp=Totp(
            secret="JBSWY3DPEHPK3PXP",
            enabled=True,
            last_counter=42,
            backup_code_hashes=("a" * 64, "b" * 64),
        ),
        timezone="Europe/Paris",
    )
    with uow:
        uow.accounts.add(account)
        uow.commit()
    with uow:
        assert uow.accounts.get(account.id) == account
        assert uow.accounts.by_email(account.email) == account


def test_a_missing_account_is_none(uow: UnitOfWork) -> None:
    with uow:
        assert uow.accounts.get(an_account().id) is None
        assert uow.accounts.by_email("nobody@example.com") is None


def test_an_email_can_be_registered_only_once(uow: UnitOfWork) -> None:
    with uow:
        uow.accounts.add(an_account(email="taken@example.com"))
        uow.commit()
    with uow, pytest.raises(EmailTaken):
        uow.accounts.add(an_account(email="taken@example.com"))


def test_work_not_committed_is_discarded(uow: UnitOfWork) -> None:
    account = an_account()
    with uow:
        uow.accounts.add(account)
    with uow:
        assert uow.accounts.get(account.id) is None


def test_saving_updates_an_account(uow: UnitOfWork) -> None:
    account = an_account()
    with uow:
        uow.accounts.add(account)
        uow.commit()
    changed = account.with_password("plain$other", NOW + timedelta(minutes=1))
    with uow:
        uow.accounts.save(changed)
        uow.commit()
    with uow:
        stored = uow.accounts.get(account.id)
    assert stored is not None
    assert stored.token_version == account.token_version + 1
    assert stored.updated_at == NOW + timedelta(minutes=1)


def test_deleting_an_account_deletes_its_tokens(uow: UnitOfWork) -> None:
    account = an_account()
    token, _ = a_token(account.id)
    with uow:
        uow.accounts.add(account)
        uow.tokens.add(token)
        uow.commit()
    with uow:
        uow.accounts.delete(account.id)
        uow.commit()
    with uow:
        assert uow.accounts.get(account.id) is None
        assert uow.tokens.by_hash(TokenKind.REFRESH, token.token_hash) is None


def test_tokens_are_found_by_kind_and_digest(uow: UnitOfWork) -> None:
    account = an_account()
    token, _ = a_token(account.id, kind=TokenKind.PASSWORD_RESET)
    with uow:
        uow.accounts.add(account)
        uow.tokens.add(token)
        uow.commit()
    with uow:
        assert uow.tokens.by_hash(TokenKind.PASSWORD_RESET, token.token_hash) == token
        assert uow.tokens.by_hash(TokenKind.REFRESH, token.token_hash) is None


def test_revoking_a_family_marks_only_its_unused_tokens(uow: UnitOfWork) -> None:
    account = an_account()
    first, _ = a_token(account.id)
    used_earlier = NOW - timedelta(hours=1)
    sibling, _ = a_token(account.id, family_id=first.family_id, used_at=used_earlier)
    stranger, _ = a_token(account.id)
    with uow:
        uow.accounts.add(account)
        for token in (first, sibling, stranger):
            uow.tokens.add(token)
        uow.commit()
    with uow:
        uow.tokens.revoke_family(first.family_id, NOW)
        uow.commit()
    with uow:
        assert uow.tokens.by_hash(TokenKind.REFRESH, first.token_hash) == evolve(first, used_at=NOW)
        assert uow.tokens.by_hash(TokenKind.REFRESH, sibling.token_hash) == sibling
        assert uow.tokens.by_hash(TokenKind.REFRESH, stranger.token_hash) == stranger


def test_revoking_all_of_a_kind_spares_other_kinds_and_accounts(uow: UnitOfWork) -> None:
    account, other = an_account(), an_account()
    refresh, _ = a_token(account.id)
    reset, _ = a_token(account.id, kind=TokenKind.PASSWORD_RESET)
    others, _ = a_token(other.id)
    with uow:
        uow.accounts.add(account)
        uow.accounts.add(other)
        for token in (refresh, reset, others):
            uow.tokens.add(token)
        uow.commit()
    with uow:
        uow.tokens.revoke_all(account.id, TokenKind.REFRESH, NOW)
        uow.commit()
    with uow:
        revoked = uow.tokens.by_hash(TokenKind.REFRESH, refresh.token_hash)
        assert revoked is not None
        assert revoked.used_at == NOW
        assert uow.tokens.by_hash(TokenKind.PASSWORD_RESET, reset.token_hash) == reset
        assert uow.tokens.by_hash(TokenKind.REFRESH, others.token_hash) == others


def test_attempts_are_counted_per_key_within_a_window(uow: UnitOfWork) -> None:
    with uow:
        for minutes in (0, 5, 10):
            uow.attempts.record("k", NOW + timedelta(minutes=minutes))
        uow.attempts.record("other", NOW)
        uow.commit()
    with uow:
        assert uow.attempts.since("k", NOW + timedelta(minutes=5)) == [
            NOW + timedelta(minutes=10),
        ]
        assert uow.attempts.since("k", NOW + timedelta(minutes=4)) == [
            NOW + timedelta(minutes=5),
            NOW + timedelta(minutes=10),
        ]
        assert uow.attempts.since("missing", NOW) == []
        uow.attempts.prune(NOW + timedelta(minutes=1))
        uow.commit()
    with uow:
        assert uow.attempts.since("k", NOW - timedelta(days=1)) == [
            NOW + timedelta(minutes=5),
            NOW + timedelta(minutes=10),
        ]
        assert uow.attempts.since("other", NOW - timedelta(days=1)) == []


def test_the_first_config_value_wins(uow: UnitOfWork) -> None:
    with uow:
        assert uow.config.get("secret_key") is None
        uow.config.put_if_absent("secret_key", "first")
        uow.commit()
    with uow:
        uow.config.put_if_absent("secret_key", "second")
        uow.commit()
    with uow:
        assert uow.config.get("secret_key") == "first"


def test_a_reading_block_sees_committed_work_and_cannot_commit(uow: UnitOfWork) -> None:
    account = an_account()
    with uow:
        uow.accounts.add(account)
        uow.commit()
    with uow.reading():
        assert uow.accounts.get(account.id) == account
        with pytest.raises(RuntimeError, match="reading"):
            uow.commit()
    with uow:  # the next block writes again
        uow.accounts.save(account.with_timezone("Europe/Paris", NOW))
        uow.commit()
    with uow.reading():
        stored = uow.accounts.get(account.id)
    assert stored is not None
    assert stored.timezone == "Europe/Paris"
