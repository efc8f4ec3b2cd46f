"""A delivery's body in the webhook's payload format (SPEC §6.5).

`json` is the §5 payload (or the rendered template), `json_with_raw` adds the stored message
as `raw_base64`, and `raw` sends the stored message itself as `message/rfc822`, its envelope
in `hookmail-*` headers. Attachments over a webhook's `attachment_url_threshold` go as
capability URLs instead of base64.

`json` does nothing here beyond what the payload always cost: the other options' work is
done only for the webhooks that ask for it.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from attrs import field, frozen

from hookmail.core import attachment_urls, payload, templates
from hookmail.core.deliveries import DeliveryJob
from hookmail.core.mail import InboundMessage
from hookmail.core.webhooks import PayloadFormat, Webhook

Json = dict[str, Any]

JSON = "application/json"
RFC822 = "message/rfc822"
# Printable ASCII stays; "%" (the escape) and "," (the list separator) are escaped, and so
# is anything else, as UTF-8: an SMTPUTF8 address survives a Latin-1 header.
_HEADER_SAFE = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in "%,")


@frozen
class AttachmentLinks:
    """How to mint attachment URLs: the shared key (read when first needed), the API's
    public base URL, the lifetime."""

    key: Callable[[], bytes] = field(repr=False)
    public_url: str
    ttl: timedelta


@frozen
class Body:
    content: bytes
    content_type: str
    headers: dict[str, str]  # besides Content-Type: the raw format's envelope


def header_value(text: str) -> str:
    """`text` as a header value: printable ASCII kept, the rest percent-encoded UTF-8."""
    return quote(text, safe=_HEADER_SAFE)


def envelope_headers(message: InboundMessage, job: DeliveryJob) -> dict[str, str]:
    envelope = message.envelope
    return {
        "hookmail-mail-from": header_value(envelope.mail_from),
        "hookmail-rcpt-to": ",".join(header_value(r) for r in job.recipients),
        "hookmail-remote-ip": header_value(envelope.remote_ip),
        "hookmail-helo": header_value(envelope.helo),
    }


def _attachments(
    message: InboundMessage,
    parsed: Json,
    threshold: int | None,
    links: AttachmentLinks | None,
    now: datetime,
) -> list[Json]:
    """The payload's attachments, each with `url`: null inline, else a capability URL."""
    found: list[Json] = parsed["attachments"]
    if threshold is None or links is None:
        return [{**a, "url": None} for a in found]
    parts: list[int] = parsed.get(payload.ATTACHMENT_PARTS) or []
    expires = now + links.ttl
    shaped = []
    for index, attachment in enumerate(found):
        if attachment["size"] <= threshold or index >= len(parts):
            shaped.append({**attachment, "url": None})
            continue
        token = attachment_urls.issue(
            links.key(),
            message_id=message.id,
            part=parts[index],
            size=attachment["size"],
            expires=expires,
        )
        shaped.append(
            {
                **attachment,
                "content_base64": None,
                "url": attachment_urls.url(links.public_url, token),
            }
        )
    return shaped


def build(
    message: InboundMessage,
    job: DeliveryJob,
    webhook: Webhook,
    parsed: Json,
    *,
    timezone: str,
    links: AttachmentLinks | None,
    now: datetime,
) -> Body:
    """The body of one delivery of `message` to `webhook`."""
    if webhook.payload_format is PayloadFormat.RAW:
        return Body(message.raw, RFC822, envelope_headers(message, job))
    data = payload.build(message, job, parsed)
    if data["attachments"]:
        data["attachments"] = _attachments(
            message, parsed, webhook.attachment_url_threshold, links, now
        )
    if webhook.payload_format is PayloadFormat.JSON_WITH_RAW:
        data["raw_base64"] = base64.b64encode(message.raw).decode("ascii")
    if webhook.payload_template:  # only ever with json: see Webhook.checked()
        view = payload.template_view(data, timezone=timezone)
        return Body(templates.render_body(webhook.payload_template, view), JSON, {})
    return Body(payload.encode(data), JSON, {})
