"""/api/v1/webhooks… and their delivery logs."""

from __future__ import annotations

from uuid import UUID

import falcon

from hookmail.core.paging import Page
from hookmail.core.ports import Clock
from hookmail.core.services import webhooks
from hookmail.core.services.webhooks import WebhookInput
from hookmail.entrypoints.http.context import Uow, int_param, json_body
from hookmail.entrypoints.http.schemas import (
    DeliveryLogView,
    WebhookView,
    structure,
    unstructure,
)


def _input(req: falcon.Request) -> WebhookInput:
    return structure(json_body(req), WebhookInput)


class WebhookCollection:
    def __init__(self, uow: Uow, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        found = webhooks.list_webhooks(self._uow(), account_id=req.context.account_id)
        resp.media = [unstructure(WebhookView.of(w)) for w in found]

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        webhook = webhooks.create_webhook(
            self._uow(), self._clock, account_id=req.context.account_id, given=_input(req)
        )
        resp.status = falcon.HTTP_201
        resp.media = unstructure(WebhookView.of(webhook))


class WebhookItem:
    def __init__(self, uow: Uow, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    def on_get(self, req: falcon.Request, resp: falcon.Response, id: UUID) -> None:
        webhook = webhooks.get_webhook(
            self._uow(), account_id=req.context.account_id, webhook_id=id
        )
        resp.media = unstructure(WebhookView.of(webhook))

    def on_put(self, req: falcon.Request, resp: falcon.Response, id: UUID) -> None:
        webhook = webhooks.update_webhook(
            self._uow(),
            self._clock,
            account_id=req.context.account_id,
            webhook_id=id,
            given=_input(req),
        )
        resp.media = unstructure(WebhookView.of(webhook))

    def on_delete(self, req: falcon.Request, resp: falcon.Response, id: UUID) -> None:
        webhooks.delete_webhook(self._uow(), account_id=req.context.account_id, webhook_id=id)
        resp.status = falcon.HTTP_204


class DeliveryLogCollection:
    def __init__(self, uow: Uow) -> None:
        self._uow = uow

    def on_get(self, req: falcon.Request, resp: falcon.Response, id: UUID) -> None:
        page = Page.parse(int_param(req, "page"), int_param(req, "page_size"))
        logs = webhooks.list_delivery_logs(
            self._uow(), account_id=req.context.account_id, webhook_id=id, page=page
        )
        resp.media = [unstructure(DeliveryLogView.of(g)) for g in logs]


class DeliveryLogItem:
    def __init__(self, uow: Uow) -> None:
        self._uow = uow

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
        resp.media = unstructure(DeliveryLogView.of(log))
