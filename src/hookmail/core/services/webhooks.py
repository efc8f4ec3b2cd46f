"""Webhook use cases, and reading their delivery logs."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from attrs import evolve, frozen

from hookmail.core.deliveries import DeliveryLog
from hookmail.core.domains import Domain
from hookmail.core.errors import DeliveryLogNotFound, InvalidField, WebhookNotFound
from hookmail.core.paging import Page
from hookmail.core.ports import Clock, UnitOfWork
from hookmail.core.quotas import Quotas, ensure_room
from hookmail.core.webhooks import (
    Address,
    PayloadFormat,
    Webhook,
    check_attachment_url_threshold,
    check_delivery_mode,
    check_headers,
    check_payload_format,
    check_rate_limit,
    check_secret,
    check_target_url,
    check_template,
    new_secret,
)


@frozen(kw_only=True)
class WebhookInput:
    """Raw fields from a request; None means "not given"."""

    address: str | None = None
    target_url: str | None = None
    secret: str | None = None
    custom_headers: dict[str, str] | None = None
    payload_template: str | None = None
    payload_format: PayloadFormat | None = None
    attachment_url_threshold: int | None = None
    clear_attachment_url_threshold: bool = False  # set by a JSON null: back to always inline
    rate_limit: int | None = None
    active: bool | None = None
    smtp_security_policy_id: UUID | None = None
    clear_security_policy: bool = False
    delivery_mode: str | None = None


def _usable_domain(uow: UnitOfWork, account_id: UUID, address: Address) -> Domain:
    for domain in uow.domains.named(address.domain):
        if domain.usable_by(account_id):
            if domain.is_public:
                address.check_shareable()
            return domain
    raise InvalidField(
        "address", f"{address.domain} is not a verified domain of this account nor a public one"
    )


def _changes(uow: UnitOfWork, account_id: UUID, given: WebhookInput) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if given.address is not None:
        address = Address.parse(given.address)
        changes["address"] = address
        changes["domain_id"] = _usable_domain(uow, account_id, address).id
    if given.target_url is not None:
        changes["target_url"] = check_target_url(given.target_url)
    if given.custom_headers is not None:
        changes["custom_headers"] = check_headers(given.custom_headers)
    if given.payload_template is not None:
        changes["payload_template"] = check_template(given.payload_template) or None
    if given.payload_format is not None:
        changes["payload_format"] = check_payload_format(given.payload_format)
    if given.clear_attachment_url_threshold:
        changes["attachment_url_threshold"] = None
    elif given.attachment_url_threshold is not None:
        changes["attachment_url_threshold"] = check_attachment_url_threshold(
            given.attachment_url_threshold
        )
    if given.rate_limit is not None:
        changes["rate_limit"] = check_rate_limit(given.rate_limit)
    if given.active is not None:
        changes["active"] = given.active
        if given.active:  # resuming: held deliveries go out, the failing clock starts anew
            changes["failing_since"] = None
            changes["disabled_reason"] = None
    if given.delivery_mode is not None:
        changes["delivery_mode"] = check_delivery_mode(given.delivery_mode)
    if given.clear_security_policy and given.smtp_security_policy_id is not None:
        raise InvalidField(
            "clear_security_policy", "can't be combined with smtp_security_policy_id"
        )
    if given.clear_security_policy:
        changes["smtp_security_policy_id"] = None
    elif given.smtp_security_policy_id is not None:
        policy = uow.policies.get(given.smtp_security_policy_id)
        if policy is None or policy.account_id != account_id:
            raise InvalidField("smtp_security_policy_id", "no such policy in this account")
        changes["smtp_security_policy_id"] = policy.id
    return changes


def create_webhook(
    uow: UnitOfWork, clock: Clock, quotas: Quotas, *, account_id: UUID, given: WebhookInput
) -> Webhook:
    """A new webhook; `409 quota_exceeded` past the account's quota."""
    if given.address is None:
        raise InvalidField("address", "is required")
    if given.target_url is None:
        raise InvalidField("target_url", "is required")
    secret = check_secret(given.secret) if given.secret is not None else new_secret()
    with uow:
        ensure_room(uow, account_id, "webhooks", uow.webhooks.count_of_account, quotas.webhooks)
        changes = _changes(uow, account_id, given)
        webhook = Webhook.new(account_id=account_id, secret=secret, now=clock.now(), **changes)
        webhook = webhook.checked(format_given=given.payload_format is not None)
        uow.webhooks.save(webhook)
        uow.commit()
    return webhook


def _own(uow: UnitOfWork, account_id: UUID, webhook_id: UUID) -> Webhook:
    webhook = uow.webhooks.get(webhook_id)
    if webhook is None or webhook.account_id != account_id:
        raise WebhookNotFound
    return webhook


def list_webhooks(uow: UnitOfWork, *, account_id: UUID, page: Page | None = None) -> list[Webhook]:
    """Oldest first; one page, or all of them (at most the quota) without `page`."""
    with uow.reading():
        found = uow.webhooks.of_account(account_id)
    return page.of(found) if page else found


def get_webhook(uow: UnitOfWork, *, account_id: UUID, webhook_id: UUID) -> Webhook:
    with uow.reading():
        return _own(uow, account_id, webhook_id)


def update_webhook(
    uow: UnitOfWork, clock: Clock, *, account_id: UUID, webhook_id: UUID, given: WebhookInput
) -> Webhook:
    """Change only the fields given. A new secret overlaps the old one for 24 hours."""
    now = clock.now()
    with uow:
        webhook = _own(uow, account_id, webhook_id)
        changes = _changes(uow, account_id, given)
        if given.secret is not None:
            webhook = webhook.with_secret(check_secret(given.secret), now)
        webhook = evolve(webhook, updated_at=now, **changes)
        domain = uow.domains.get(webhook.domain_id)
        if given.address is None and domain is not None and domain.is_public:
            webhook.address.check_shareable()  # one made before the rule keeps no other change
        webhook = webhook.checked(format_given=given.payload_format is not None)
        uow.webhooks.save(webhook)
        uow.commit()
    return webhook


def delete_webhook(uow: UnitOfWork, *, account_id: UUID, webhook_id: UUID) -> None:
    with uow:
        _own(uow, account_id, webhook_id)
        uow.webhooks.delete(webhook_id)
        uow.commit()


def list_delivery_logs(
    uow: UnitOfWork, *, account_id: UUID, webhook_id: UUID, page: Page
) -> list[DeliveryLog]:
    """Newest first, one page."""
    with uow.reading():
        _own(uow, account_id, webhook_id)
        if page.past_any_data:
            return []
        return uow.delivery_logs.of_webhook(webhook_id, offset=page.offset, limit=page.size)


def get_delivery_log(
    uow: UnitOfWork, *, account_id: UUID, webhook_id: UUID, log_id: UUID
) -> DeliveryLog:
    with uow.reading():
        _own(uow, account_id, webhook_id)
        log = uow.delivery_logs.get(webhook_id, log_id)
    if log is None:
        raise DeliveryLogNotFound
    return log
