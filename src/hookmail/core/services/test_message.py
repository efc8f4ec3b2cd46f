"""A test message for a webhook, through the same inbound path as mail from SMTP."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from uuid import UUID

from hookmail.core.ports import Clock, DkimVerifier, SpfChecker, UnitOfWork
from hookmail.core.services import inbound
from hookmail.core.services.inbound import Receipt
from hookmail.core.services.webhooks import get_webhook

LOOPBACK = "127.0.0.1"


def send_test_message(
    uow: UnitOfWork,
    clock: Clock,
    spf: SpfChecker,
    dkim: DkimVerifier,
    *,
    account_id: UUID,
    webhook_id: UUID,
    hostname: str,
) -> tuple[str, Receipt]:
    """Send a short message to the webhook's address (a catch-all gets `test@`) through
    `inbound.receive`: routed, checked against its policy and stored with its delivery job
    like mail over SMTP, from `test@<hostname>` at 127.0.0.1 without SMTP AUTH. Answers the
    recipient and the receipt; a refusal is logged for the webhook like any other."""
    webhook = get_webhook(uow, account_id=account_id, webhook_id=webhook_id)
    recipient = str(webhook.address)
    if webhook.address.is_catch_all:
        recipient = f"test@{webhook.address.domain.value}"
    sender = f"test@{hostname}"
    message = EmailMessage()
    message["From"] = f"hookmail <{sender}>"
    message["To"] = recipient
    message["Subject"] = "hookmail test message"
    message["Date"] = format_datetime(clock.now())
    message["Message-ID"] = make_msgid("test", domain=hostname)
    message.set_content(
        f"This test message was sent from the hookmail dashboard to {recipient}.\n"
        "If your endpoint received it, the webhook works.\n"
    )
    receipt = inbound.receive(
        uow,
        clock,
        spf,
        dkim,
        raw=message.as_bytes(),
        mail_from=sender,
        rcpt_to=[recipient],
        remote_ip=LOOPBACK,
        helo=hostname,
        hostname=hostname,
    )
    return recipient, receipt
