"""/api/v1/webhooks… and their delivery logs."""

from __future__ import annotations

from typing import TypeVar
from uuid import UUID

import falcon
from attrs import evolve

from hookmail.core.paging import Page
from hookmail.core.ports import Clock
from hookmail.core.quotas import Quotas
from hookmail.core.services import webhooks
from hookmail.entrypoints.http.context import Uow, json_body, query
from hookmail.entrypoints.http.openapi import operation
from hookmail.entrypoints.http.schemas import (
    CreateWebhookRequest,
    DeliveryLogResponse,
    PageQuery,
    UpdateWebhookRequest,
    WebhookResponse,
    structure,
    unstructure,
)

Given = TypeVar("Given", CreateWebhookRequest, UpdateWebhookRequest)
PARAMETERS = {"id": "Webhook ID", "logId": "Delivery log entry ID"}


def _given(req: falcon.Request, cls: type[Given]) -> Given:
    body = json_body(req)
    given = structure(body, cls)
    if isinstance(body, dict) and body.get("attachment_url_threshold", 0) is None:
        given = evolve(given, clear_attachment_url_threshold=True)  # null: always inline
    return given


class WebhookCollection:
    def __init__(self, uow: Uow, clock: Clock, quotas: Quotas) -> None:
        self._uow, self._clock, self._quotas = uow, clock, quotas

    @operation("listWebhooks", "List webhooks", response=list[WebhookResponse], query=PageQuery)
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        asked = query(req, PageQuery)
        found = webhooks.list_webhooks(
            self._uow(),
            account_id=req.context.account_id,
            page=Page.optional(asked.page, asked.page_size),
        )
        resp.media = [unstructure(WebhookResponse.of(w)) for w in found]

    @operation(
        "createWebhook",
        "Create webhook",
        status=201,
        response=WebhookResponse,
        body=CreateWebhookRequest,
        errors=(409,),
    )
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        webhook = webhooks.create_webhook(
            self._uow(),
            self._clock,
            self._quotas,
            account_id=req.context.account_id,
            given=_given(req, CreateWebhookRequest),
        )
        resp.status = falcon.HTTP_201
        resp.media = unstructure(WebhookResponse.of(webhook))


class WebhookItem:
    def __init__(self, uow: Uow, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    @operation("getWebhook", "Get webhook", response=WebhookResponse, errors=(404,))
    def on_get(self, req: falcon.Request, resp: falcon.Response, id: UUID) -> None:
        webhook = webhooks.get_webhook(
            self._uow(), account_id=req.context.account_id, webhook_id=id
        )
        resp.media = unstructure(WebhookResponse.of(webhook))

    @operation(
        "updateWebhook",
        "Update webhook",
        response=WebhookResponse,
        body=UpdateWebhookRequest,
        errors=(404, 409),
    )
    def on_put(self, req: falcon.Request, resp: falcon.Response, id: UUID) -> None:
        webhook = webhooks.update_webhook(
            self._uow(),
            self._clock,
            account_id=req.context.account_id,
            webhook_id=id,
            given=_given(req, UpdateWebhookRequest),
        )
        resp.media = unstructure(WebhookResponse.of(webhook))

    @operation("deleteWebhook", "Delete webhook", status=204, errors=(404,))
    def on_delete(self, req: falcon.Request, resp: falcon.Response, id: UUID) -> None:
        webhooks.delete_webhook(self._uow(), account_id=req.context.account_id, webhook_id=id)
        resp.status = falcon.HTTP_204


class DeliveryLogCollection:
    def __init__(self, uow: Uow) -> None:
        self._uow = uow

    @operation(
        "listDeliveryLogs",
        "List delivery logs for a webhook",
        response=list[DeliveryLogResponse],
        query=PageQuery,
        errors=(404,),
    )
    def on_get(self, req: falcon.Request, resp: falcon.Response, id: UUID) -> None:
        asked = query(req, PageQuery)
        logs = webhooks.list_delivery_logs(
            self._uow(),
            account_id=req.context.account_id,
            webhook_id=id,
            page=Page.parse(asked.page, asked.page_size),
        )
        resp.media = [unstructure(DeliveryLogResponse.of(g)) for g in logs]


class DeliveryLogItem:
    def __init__(self, uow: Uow) -> None:
        self._uow = uow

    @operation(
        "getDeliveryLog",
        "Get a single delivery log entry",
        response=DeliveryLogResponse,
        errors=(404,),
    )
    def on_get(
        self,
        req: falcon.Request,
        resp: falcon.Response,
        id: UUID,
        logId: UUID,  # noqa: N803 (the path parameter's name in the API)
    ) -> None:
        log = webhooks.get_delivery_log(
            self._uow(), account_id=req.context.account_id, webhook_id=id, log_id=logId
        )
        resp.media = unstructure(DeliveryLogResponse.of(log))
