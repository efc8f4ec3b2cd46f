"""Reading stored messages: each account sees only its own recipients and deliveries."""

from __future__ import annotations

from uuid import UUID

from hookmail.core.deliveries import DeliveryJob
from hookmail.core.errors import MessageNotFound
from hookmail.core.messages import AccountMessage, MessageStatus
from hookmail.core.paging import Page
from hookmail.core.ports import UnitOfWork


def _assemble(uow: UnitOfWork, account_id: UUID, ids: list[UUID]) -> list[AccountMessage]:
    """Three indexed reads for a whole page: ids, summaries, the account's jobs."""
    wanted = set(ids)
    summaries = uow.messages.summaries(wanted)
    by_message: dict[UUID, list[DeliveryJob]] = {}
    for job in uow.jobs.of_messages(account_id, wanted):
        by_message.setdefault(job.message_id, []).append(job)
    return [
        AccountMessage(summary=summaries[i], deliveries=tuple(by_message[i]))
        for i in ids
        if i in summaries and i in by_message
    ]


def list_messages(
    uow: UnitOfWork,
    *,
    account_id: UUID,
    page: Page,
    status: MessageStatus | None = None,
    webhook_id: UUID | None = None,
) -> list[AccountMessage]:
    """The account's accepted messages, newest first, one page. A webhook of another account
    matches nothing, like one that does not exist."""
    if page.past_any_data:
        return []
    with uow.reading():
        ids = uow.messages.page_of_account(
            account_id, webhook_id=webhook_id, status=status, offset=page.offset, limit=page.size
        )
        return _assemble(uow, account_id, ids)


def get_message(uow: UnitOfWork, *, account_id: UUID, message_id: UUID) -> AccountMessage:
    with uow.reading():
        found = _assemble(uow, account_id, [message_id])
    if not found:
        raise MessageNotFound
    return found[0]


def raw_message(uow: UnitOfWork, *, account_id: UUID, message_id: UUID) -> bytes:
    """The message as stored (with hookmail's Received header), if the account has it."""
    with uow.reading():
        message = None
        if uow.jobs.of_messages(account_id, {message_id}):
            message = uow.messages.get(message_id)
    if message is None:
        raise MessageNotFound
    return message.raw
