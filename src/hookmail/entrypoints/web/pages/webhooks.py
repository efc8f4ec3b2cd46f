"""/webhooks and /webhooks/{id}: create, edit, delete, pause and resume, a new secret, a
test message, and the delivery attempts."""

from __future__ import annotations

from collections.abc import Mapping
from uuid import UUID

import falcon

from hookmail.core.paging import Page as LogPage
from hookmail.core.ports import DkimVerifier, SpfChecker
from hookmail.core.quotas import Quotas
from hookmail.core.services import smtp_policies, test_message, webhooks
from hookmail.core.services.inbound import RefusalReason, Refused
from hookmail.core.services.webhooks import WebhookInput
from hookmail.core.webhooks import new_secret
from hookmail.entrypoints.http.schemas import (
    CreateWebhookRequest,
    UpdateWebhookRequest,
    WebhookResponse,
    unstructure,
)
from hookmail.entrypoints.web import forms
from hookmail.entrypoints.web.guard import Page
from hookmail.entrypoints.web.site import Site, redirect

# Shown as buttons of their own (pause/resume, new secret), or implied by the policy choice.
NOT_IN_FORM = frozenset(
    {"secret", "active", "clear_security_policy", "clear_attachment_url_threshold"}
)
NO_POLICY = ""


class WebhookPages(Page):
    def __init__(self, site: Site, spf: SpfChecker, dkim: DkimVerifier, quotas: Quotas) -> None:
        super().__init__(site)
        self.spf, self.dkim = spf, dkim  # the test message's inbound path checks like SMTP
        self.quotas = quotas

    def _fields(self, req: falcon.Request, values: Mapping[str, object]) -> list[forms.Field]:
        policies = smtp_policies.list_policies(self.uow(), account_id=self.account(req).id)
        choices = ((NO_POLICY, "(none: any sender)"), *((str(p.id), p.name) for p in policies))
        return forms.fields(
            UpdateWebhookRequest,
            values,
            skip=NOT_IN_FORM,
            options={"smtp_security_policy_id": choices},
        )

    def _input(self, req: falcon.Request, cls: type[WebhookInput]) -> WebhookInput:
        """The API's request class from the form; "(none)" as the policy detaches it, a blank
        attachment threshold sends attachments inline again."""
        form = dict(self.form(req))
        extra: dict[str, object] = {}
        if form.get("smtp_security_policy_id", NO_POLICY) == NO_POLICY:
            form.pop("smtp_security_policy_id", None)
            extra["clear_security_policy"] = True
        if cls is UpdateWebhookRequest and not form.get("attachment_url_threshold", "x").strip():
            extra["clear_attachment_url_threshold"] = True  # blank: every attachment inline
        return forms.structure(cls, form, **extra)

    # -- the list -----------------------------------------------------------------------

    def _show_list(
        self, req: falcon.Request, resp: falcon.Response, alert: str | None = None
    ) -> None:
        found = webhooks.list_webhooks(self.uow(), account_id=self.account(req).id)
        posted = self.form(req) if alert else {}
        self.site.render(
            req,
            resp,
            "webhooks.html",
            webhooks=found,
            fields=self._fields(req, posted),
            alert=alert,
        )

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        self._show_list(req, resp)

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        with self.site.failing_to(resp, lambda alert: self._show_list(req, resp, alert)):
            webhook = webhooks.create_webhook(
                self.uow(),
                self.clock,
                self.quotas,
                account_id=self.account(req).id,
                given=self._input(req, CreateWebhookRequest),
            )
            redirect(resp, f"/webhooks/{webhook.id}", done="created")

    # -- one webhook ----------------------------------------------------------------------

    def _show_item(
        self,
        req: falcon.Request,
        resp: falcon.Response,
        id: UUID,
        alert: str | None = None,
        secret: str | None = None,
    ) -> None:
        account_id = self.account(req).id
        webhook = webhooks.get_webhook(self.uow(), account_id=account_id, webhook_id=id)
        view = unstructure(WebhookResponse.of(webhook))
        attempts = webhooks.list_delivery_logs(
            self.uow(), account_id=account_id, webhook_id=id, page=LogPage(1, 20)
        )
        edited = self.form(req) if alert and req.path == f"/webhooks/{id}" else view
        self.site.render(
            req,
            resp,
            "webhook.html",
            webhook=webhook,
            view=view,
            fields=self._fields(req, edited),
            attempts=attempts,
            new_secret=secret,
            alert=alert,
            waiting=req.get_param("done") == "sent" and not attempts,
        )

    def _act(self, req: falcon.Request, resp: falcon.Response, id: UUID, done: str) -> None:
        redirect(resp, f"/webhooks/{id}", done=done)

    def on_get_item(self, req: falcon.Request, resp: falcon.Response, id: UUID) -> None:
        self._show_item(req, resp, id)

    def on_post_item(self, req: falcon.Request, resp: falcon.Response, id: UUID) -> None:
        with self.site.failing_to(resp, lambda alert: self._show_item(req, resp, id, alert)):
            webhooks.update_webhook(
                self.uow(),
                self.clock,
                account_id=self.account(req).id,
                webhook_id=id,
                given=self._input(req, UpdateWebhookRequest),
            )
            self._act(req, resp, id, "saved")

    def _set_active(self, req: falcon.Request, resp: falcon.Response, id: UUID, on: bool) -> None:
        with self.site.failing_to(resp, lambda alert: self._show_item(req, resp, id, alert)):
            webhooks.update_webhook(
                self.uow(),
                self.clock,
                account_id=self.account(req).id,
                webhook_id=id,
                given=WebhookInput(active=on),
            )
            self._act(req, resp, id, "resumed" if on else "paused")

    def on_post_pause(self, req: falcon.Request, resp: falcon.Response, id: UUID) -> None:
        self._set_active(req, resp, id, on=False)

    def on_post_resume(self, req: falcon.Request, resp: falcon.Response, id: UUID) -> None:
        self._set_active(req, resp, id, on=True)

    def on_post_secret(self, req: falcon.Request, resp: falcon.Response, id: UUID) -> None:
        """A new secret, shown once on this answer; the old one signs beside it for 24 h."""
        with self.site.failing_to(resp, lambda alert: self._show_item(req, resp, id, alert)):
            secret = new_secret()
            webhooks.update_webhook(
                self.uow(),
                self.clock,
                account_id=self.account(req).id,
                webhook_id=id,
                given=WebhookInput(secret=secret),
            )
            self._show_item(req, resp, id, secret=secret)

    def on_post_test(self, req: falcon.Request, resp: falcon.Response, id: UUID) -> None:
        with self.site.failing_to(resp, lambda alert: self._show_item(req, resp, id, alert)):
            recipient, receipt = test_message.send_test_message(
                self.uow(),
                self.clock,
                self.spf,
                self.dkim,
                account_id=self.account(req).id,
                webhook_id=id,
                hostname=self.site.smtp_hostname,
            )
            if receipt.jobs:
                self._act(req, resp, id, "sent")
                return
            refused = receipt.refused.get(recipient)
            resp.status = falcon.HTTP_422
            reason = _refusal(refused) if refused else "its SMTP policy refuses it after DATA"
            self._show_item(req, resp, id, alert=f"The test message was refused: {reason}.")

    def on_post_delete(self, req: falcon.Request, resp: falcon.Response, id: UUID) -> None:
        with self.site.failing_to(resp, lambda alert: self._show_item(req, resp, id, alert)):
            webhooks.delete_webhook(self.uow(), account_id=self.account(req).id, webhook_id=id)
            redirect(resp, "/webhooks", done="deleted")


def _refusal(refused: Refused) -> str:
    """The dashboard's words for a refusal (SMTP has its own, in smtp/replies.py)."""
    if refused.reason is RefusalReason.INACTIVE:
        return "the webhook is paused or disabled"
    if refused.reason is RefusalReason.POLICY:
        return f"its SMTP policy refuses it ({refused.detail})"
    return "no webhook takes this address (is its domain still verified?)"
