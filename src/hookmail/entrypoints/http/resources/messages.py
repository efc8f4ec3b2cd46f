"""/api/v1/messages… (SPEC §6.1) and replay (§6.2)."""

from __future__ import annotations

import time
from functools import partial
from uuid import UUID

import falcon

from hookmail.core.errors import InvalidField
from hookmail.core.messages import MessageStatus
from hookmail.core.paging import Page
from hookmail.core.ports import Clock
from hookmail.core.services import messages, replay
from hookmail.entrypoints.http.context import Uow, json_body, query
from hookmail.entrypoints.http.openapi import operation
from hookmail.entrypoints.http.schemas import (
    MessageQuery,
    MessageResponse,
    ReplayMessageRequest,
    ReplayResponse,
    ReplayWebhookRequest,
    structure,
    unstructure,
)

PARAMETERS = {"id": "Message ID"}


def _uuid(raw: str | None, name: str) -> UUID | None:
    if raw is None:
        return None
    try:
        return UUID(raw)
    except ValueError:
        raise InvalidField(name, "must be a UUID") from None


def _has_body(req: falcon.Request) -> bool:
    return bool(req.content_length) or req.get_header("Transfer-Encoding") is not None


class MessageCollection:
    def __init__(self, uow: Uow) -> None:
        self._uow = uow

    @operation(
        "listMessages",
        "List received messages, newest first",
        response=list[MessageResponse],
        query=MessageQuery,
    )
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        asked = query(req, MessageQuery)
        found = messages.list_messages(
            self._uow(),
            account_id=req.context.account_id,
            page=Page.parse(asked.page, asked.page_size),
            status=MessageStatus.parse(asked.status),
            webhook_id=_uuid(asked.webhook_id, "webhook_id"),
        )
        resp.media = [unstructure(MessageResponse.of(m)) for m in found]


class MessageItem:
    def __init__(self, uow: Uow) -> None:
        self._uow = uow

    @operation("getMessage", "Get a message", response=MessageResponse, errors=(404,))
    def on_get(self, req: falcon.Request, resp: falcon.Response, id: UUID) -> None:
        found = messages.get_message(self._uow(), account_id=req.context.account_id, message_id=id)
        resp.media = unstructure(MessageResponse.of(found))


class MessageRaw:
    def __init__(self, uow: Uow) -> None:
        self._uow = uow

    @operation(
        "getRawMessage",
        "Download the message as received (with hookmail's Received header)",
        response=bytes,
        media_type="message/rfc822",
        errors=(404,),
    )
    def on_get(self, req: falcon.Request, resp: falcon.Response, id: UUID) -> None:
        raw = messages.raw_message(self._uow(), account_id=req.context.account_id, message_id=id)
        resp.content_type = "message/rfc822"
        resp.data = raw


class MessageReplay:
    def __init__(self, uow: Uow, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    @operation(
        "replayMessage",
        "Replay the account's delivered or failed deliveries of a message",
        status=202,
        response=ReplayResponse,
        body=ReplayMessageRequest,
        body_required=False,
        errors=(404,),
    )
    def on_post(self, req: falcon.Request, resp: falcon.Response, id: UUID) -> None:
        body = ReplayMessageRequest()
        if _has_body(req):
            body = structure(json_body(req), ReplayMessageRequest)
        count = replay.replay_message(
            self._uow(),
            self._clock,
            account_id=req.context.account_id,
            message_id=id,
            webhook_id=body.webhook_id,
        )
        resp.status = falcon.HTTP_202
        resp.media = unstructure(ReplayResponse(count))


class WebhookReplay:
    """`pause`: seconds between two batches of a window replay. On SQLite a writer waiting
    for the lock (an SMTP commit) is retried by the busy handler after sleeps of 1, 2, 5, 10,
    15, 20… ms, so without a pause the replay's next batch always wins the write lock and
    SMTP commits starve (measured: a 250 took 0.9 s during a 10 000 replay; with 50 ms
    between ~30 ms batches, 0.12-0.17 s at worst). PostgreSQL needs none."""

    tag = "webhooks"
    parameters = {"id": "Webhook ID"}  # noqa: RUF012 (read by the OpenAPI builder)

    def __init__(self, uow: Uow, clock: Clock, *, pause: float = 0.0) -> None:
        self._uow, self._clock = uow, clock
        self._between_batches = partial(time.sleep, pause) if pause else (lambda: None)

    @operation(
        "replayWebhook",
        "Replay a webhook's deliveries of the messages received in a time window",
        status=202,
        response=ReplayResponse,
        body=ReplayWebhookRequest,
        errors=(404,),
    )
    def on_post(self, req: falcon.Request, resp: falcon.Response, id: UUID) -> None:
        body = structure(json_body(req), ReplayWebhookRequest)
        window = replay.Window.parse(
            since=body.since, until=body.until, status=body.status, now=self._clock.now()
        )
        count = replay.replay_window(
            self._uow(),
            self._clock,
            account_id=req.context.account_id,
            webhook_id=id,
            window=window,
            between_batches=self._between_batches,
        )
        resp.status = falcon.HTTP_202
        resp.media = unstructure(ReplayResponse(count))
