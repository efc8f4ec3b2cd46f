"""/api/v1/smtp-policies…"""

from __future__ import annotations

from uuid import UUID

import falcon

from hookmail.core.paging import Page
from hookmail.core.ports import Clock, CredentialHasher
from hookmail.core.quotas import Quotas
from hookmail.core.services import smtp_policies
from hookmail.entrypoints.http.context import Uow, json_body, query
from hookmail.entrypoints.http.openapi import operation
from hookmail.entrypoints.http.schemas import (
    CreateSmtpSecurityPolicyRequest,
    PageQuery,
    SmtpSecurityPolicyResponse,
    UpdateSmtpSecurityPolicyRequest,
    structure,
    unstructure,
)

TAG = "smtp-security-policies"
PARAMETERS = {"id": "SMTP security policy ID"}


class PolicyCollection:
    def __init__(self, uow: Uow, clock: Clock, hasher: CredentialHasher, quotas: Quotas) -> None:
        self._uow, self._clock, self._hasher, self._quotas = uow, clock, hasher, quotas

    @operation(
        "listSmtpSecurityPolicies",
        "List SMTP security policies",
        response=list[SmtpSecurityPolicyResponse],
        query=PageQuery,
    )
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        asked = query(req, PageQuery)
        found = smtp_policies.list_policies(
            self._uow(),
            account_id=req.context.account_id,
            page=Page.optional(asked.page, asked.page_size),
        )
        resp.media = [unstructure(SmtpSecurityPolicyResponse.of(p)) for p in found]

    @operation(
        "createSmtpSecurityPolicy",
        "Create SMTP security policy",
        status=201,
        response=SmtpSecurityPolicyResponse,
        body=CreateSmtpSecurityPolicyRequest,
        errors=(409,),
    )
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        policy = smtp_policies.create_policy(
            self._uow(),
            self._clock,
            self._hasher,
            self._quotas,
            account_id=req.context.account_id,
            given=structure(json_body(req), CreateSmtpSecurityPolicyRequest),
        )
        resp.status = falcon.HTTP_201
        resp.media = unstructure(SmtpSecurityPolicyResponse.of(policy))


class PolicyItem:
    def __init__(self, uow: Uow, clock: Clock, hasher: CredentialHasher) -> None:
        self._uow, self._clock, self._hasher = uow, clock, hasher

    @operation(
        "getSmtpSecurityPolicy",
        "Get SMTP security policy",
        response=SmtpSecurityPolicyResponse,
        errors=(404,),
    )
    def on_get(self, req: falcon.Request, resp: falcon.Response, id: UUID) -> None:
        policy = smtp_policies.get_policy(
            self._uow(), account_id=req.context.account_id, policy_id=id
        )
        resp.media = unstructure(SmtpSecurityPolicyResponse.of(policy))

    @operation(
        "updateSmtpSecurityPolicy",
        "Update SMTP security policy",
        response=SmtpSecurityPolicyResponse,
        body=UpdateSmtpSecurityPolicyRequest,
        errors=(404,),
    )
    def on_put(self, req: falcon.Request, resp: falcon.Response, id: UUID) -> None:
        policy = smtp_policies.update_policy(
            self._uow(),
            self._clock,
            self._hasher,
            account_id=req.context.account_id,
            policy_id=id,
            given=structure(json_body(req), UpdateSmtpSecurityPolicyRequest),
        )
        resp.media = unstructure(SmtpSecurityPolicyResponse.of(policy))

    @operation(
        "deleteSmtpSecurityPolicy", "Delete SMTP security policy", status=204, errors=(404, 409)
    )
    def on_delete(self, req: falcon.Request, resp: falcon.Response, id: UUID) -> None:
        smtp_policies.delete_policy(self._uow(), account_id=req.context.account_id, policy_id=id)
        resp.status = falcon.HTTP_204
