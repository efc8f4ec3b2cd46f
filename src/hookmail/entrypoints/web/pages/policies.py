"""/policies: SMTP security policies, created, edited and deleted; credentials masked."""

from __future__ import annotations

from collections.abc import Mapping
from uuid import UUID

import falcon

from hookmail.core.ports import CredentialHasher
from hookmail.core.quotas import Quotas
from hookmail.core.services import smtp_policies
from hookmail.entrypoints.http.schemas import (
    CreateSmtpSecurityPolicyRequest,
    SmtpSecurityPolicyResponse,
    UpdateSmtpSecurityPolicyRequest,
    unstructure,
)
from hookmail.entrypoints.web import forms
from hookmail.entrypoints.web.guard import Page
from hookmail.entrypoints.web.site import Site, redirect


class Policies(Page):
    def __init__(self, site: Site, hasher: CredentialHasher, quotas: Quotas) -> None:
        super().__init__(site)
        self.hasher, self.quotas = hasher, quotas

    def _show(
        self,
        req: falcon.Request,
        resp: falcon.Response,
        alert: str | None = None,
        posted: UUID | None = None,
    ) -> None:
        """The list, each policy's form filled from the API's (masked) view, or from the
        form just posted to it (`posted`: that policy's id; None for the new-policy form)."""
        account = self.account(req)
        found = smtp_policies.list_policies(self.uow(), account_id=account.id)
        form = self.form(req) if req.method == "POST" else {}

        def values(policy_id: UUID | None, view: Mapping[str, object]) -> list[forms.Field]:
            return forms.fields(
                UpdateSmtpSecurityPolicyRequest, form if alert and posted == policy_id else view
            )

        self.site.render(
            req,
            resp,
            "policies.html",
            new=values(None, {}),
            policies=[
                (p, values(p.id, unstructure(SmtpSecurityPolicyResponse.of(p)))) for p in found
            ],
            alert=alert,
        )

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        self._show(req, resp)

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        with self.site.failing_to(resp, lambda alert: self._show(req, resp, alert)):
            smtp_policies.create_policy(
                self.uow(),
                self.clock,
                self.hasher,
                self.quotas,
                account_id=self.account(req).id,
                given=forms.structure(CreateSmtpSecurityPolicyRequest, self.form(req)),
            )
            redirect(resp, "/policies", done="created")

    def on_post_item(self, req: falcon.Request, resp: falcon.Response, id: UUID) -> None:
        with self.site.failing_to(resp, lambda alert: self._show(req, resp, alert, posted=id)):
            smtp_policies.update_policy(
                self.uow(),
                self.clock,
                self.hasher,
                account_id=self.account(req).id,
                policy_id=id,
                given=forms.structure(UpdateSmtpSecurityPolicyRequest, self.form(req)),
            )
            redirect(resp, "/policies", done="saved")

    def on_post_delete(self, req: falcon.Request, resp: falcon.Response, id: UUID) -> None:
        with self.site.failing_to(resp, lambda alert: self._show(req, resp, alert)):
            smtp_policies.delete_policy(self.uow(), account_id=self.account(req).id, policy_id=id)
            redirect(resp, "/policies", done="deleted")
