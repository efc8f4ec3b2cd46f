"""/messages: the account's messages (filters by status and webhook), each with its
deliveries and every attempt, the raw download, and Replay."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

import falcon

from hookmail.core.errors import InvalidField
from hookmail.core.messages import MessageStatus
from hookmail.core.paging import Page as ListPage
from hookmail.core.services import messages, replay, webhooks
from hookmail.core.services.delivery import DeliveryConfig
from hookmail.core.services.message_detail import message_detail
from hookmail.entrypoints.web.guard import Page
from hookmail.entrypoints.web.site import Site, redirect

PAGE_SIZE = 25


class MessagePages(Page):
    def __init__(self, site: Site, config: Callable[[], DeliveryConfig]) -> None:
        super().__init__(site)
        # to build the payload a delivery sends, as the worker does; a provider, read per
        # request, because it reads the store (the attachment URL key) and the app must
        # start on an unmigrated store
        self.config = config

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        account_id = self.account(req).id
        status_raw = req.get_param("status") or None
        webhook_raw = req.get_param("webhook_id") or None
        number = _page_number(req.get_param("page"))

        def show(alert: str | None = None, found: list[object] | None = None) -> None:
            self.site.render(
                req,
                resp,
                "messages.html",
                messages=found or [],
                webhooks=webhooks.list_webhooks(self.uow(), account_id=account_id),
                statuses=[s.value for s in MessageStatus],
                status=status_raw or "",
                webhook_id=webhook_raw or "",
                page=number,
                more=len(found or []) == PAGE_SIZE,
                alert=alert,
            )

        with self.site.failing_to(resp, show):
            found = messages.list_messages(
                self.uow(),
                account_id=account_id,
                page=ListPage.parse(number, PAGE_SIZE),
                status=MessageStatus.parse(status_raw),
                webhook_id=_uuid(webhook_raw),
            )
            show(found=list(found))

    def _show_item(
        self, req: falcon.Request, resp: falcon.Response, id: UUID, alert: str | None = None
    ) -> None:
        detail = message_detail(
            self.uow(), self.clock, self.config(), account_id=self.account(req).id, message_id=id
        )
        self.site.render(req, resp, "message.html", detail=detail, alert=alert)

    def on_get_item(self, req: falcon.Request, resp: falcon.Response, id: UUID) -> None:
        self._show_item(req, resp, id)

    def on_get_raw(self, req: falcon.Request, resp: falcon.Response, id: UUID) -> None:
        raw = messages.raw_message(self.uow(), account_id=self.account(req).id, message_id=id)
        resp.content_type = "message/rfc822"
        resp.downloadable_as = f"message-{id}.eml"
        resp.data = raw

    def on_post_replay(self, req: falcon.Request, resp: falcon.Response, id: UUID) -> None:
        with self.site.failing_to(resp, lambda alert: self._show_item(req, resp, id, alert)):
            replay.replay_message(
                self.uow(),
                self.clock,
                account_id=self.account(req).id,
                message_id=id,
                webhook_id=_uuid(self.form(req).get("webhook_id") or None),
            )
            redirect(resp, f"/messages/{id}", done="replayed")


def _uuid(raw: str | None) -> UUID | None:
    if raw is None:
        return None
    try:
        return UUID(raw)
    except ValueError:
        raise InvalidField("webhook_id", "is not one of your webhooks") from None


def _page_number(raw: str | None) -> int:
    try:
        return max(1, int(raw or 1))
    except ValueError:
        return 1
