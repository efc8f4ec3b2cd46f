"""Per-account quotas (SPEC §3): how many webhooks, domains and SMTP policies one account may
hold. Counted in the store under a lock of the account's row, so two creates racing for the
last slot can't both take it, whichever process serves them."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

from attrs import frozen

from hookmail.core.errors import QuotaExceeded
from hookmail.core.ports import UnitOfWork


@frozen(kw_only=True)
class Quotas:
    """The configurable limits (`HOOKMAIL_MAX_WEBHOOKS`, `_MAX_DOMAINS`, `_MAX_POLICIES`)."""

    webhooks: int = 1000
    domains: int = 100
    policies: int = 100


def ensure_room(
    uow: UnitOfWork, account_id: UUID, what: str, held: Callable[[UUID], int], quota: int
) -> None:
    """Lock the account's row for the rest of the transaction, then raise QuotaExceeded if
    it already holds `quota` of `what` (counted by `held`). The caller inserts and commits
    in the same transaction, so concurrent creates of one account are counted in turn."""
    uow.accounts.lock(account_id)
    if held(account_id) >= quota:
        raise QuotaExceeded(what, quota)
