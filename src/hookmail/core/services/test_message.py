"""A test message for a webhook, through the same inbound path as mail from SMTP."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from uuid import UUID

from hookmail.core.mail import AuthResults, Envelope, SpfOutcome
from hookmail.core.ports import Clock, UnitOfWork
from hookmail.core.services import inbound
from hookmail.core.services.inbound import Accepted, Refused
from hookmail.core.services.webhooks import get_webhook

LOOPBACK = "127.0.0.1"


def send_test_message(
    uow: UnitOfWork, clock: Clock, *, account_id: UUID, webhook_id: UUID, sender_host: str
) -> Accepted | Refused:
    """Send a short message to the webhook's address (a catch-all gets `test@`), routed,
    checked against its policy and stored with its delivery job like mail over SMTP, from
    127.0.0.1 without SMTP AUTH, SPF or DKIM. A refusal is logged and returned."""
    webhook = get_webhook(uow, account_id=account_id, webhook_id=webhook_id)
    recipient = str(webhook.address)
    if webhook.address.is_catch_all:
        recipient = f"test@{webhook.address.domain.value}"
    sender = f"test@{sender_host}"
    decision = inbound.check_recipient(
        uow,
        clock,
        recipient=recipient,
        mail_from=sender,
        remote_ip=LOOPBACK,
        authenticated_policies=set(),
        spf=lambda: SpfOutcome("none", sender_host, "sent from the hookmail dashboard"),
    )
    if isinstance(decision, Refused):
        return decision
    now = clock.now()
    message = EmailMessage()
    message["From"] = f"hookmail <{sender}>"
    message["To"] = recipient
    message["Subject"] = "hookmail test message"
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid("test", domain=sender_host)
    message.set_content(
        f"This test message was sent from the hookmail dashboard to {recipient}.\n"
        "If your endpoint received it, the webhook works.\n"
    )
    raw = message.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    prepared = inbound.prepare_message(
        clock,
        raw=raw,
        envelope=Envelope(
            mail_from=sender, rcpt_to=(recipient,), remote_ip=LOOPBACK, helo=sender_host
        ),
        auth=AuthResults(),
        accepted=[decision],
        hostname=sender_host,
    )
    inbound.commit_prepared(uow, [prepared])
    return decision
