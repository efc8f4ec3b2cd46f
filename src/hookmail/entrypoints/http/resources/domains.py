"""/api/v1/domains…"""

from __future__ import annotations

from uuid import UUID

import falcon

from hookmail.core.paging import Page
from hookmail.core.ports import Clock, TxtResolver
from hookmail.core.quotas import Quotas
from hookmail.core.services import domains
from hookmail.entrypoints.http.context import Uow, json_body, query
from hookmail.entrypoints.http.openapi import operation
from hookmail.entrypoints.http.schemas import (
    CreateDomainRequest,
    DomainResponse,
    PageQuery,
    structure,
    unstructure,
)

PARAMETERS = {"id": "Domain ID"}


class DomainCollection:
    def __init__(self, uow: Uow, clock: Clock, quotas: Quotas) -> None:
        self._uow, self._clock, self._quotas = uow, clock, quotas

    @operation("listDomains", "List domains", response=list[DomainResponse], query=PageQuery)
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        asked = query(req, PageQuery)
        found = domains.list_domains(
            self._uow(),
            account_id=req.context.account_id,
            page=Page.optional(asked.page, asked.page_size),
        )
        resp.media = [unstructure(DomainResponse.of(d)) for d in found]

    @operation(
        "createDomainClaim",
        "Claim a domain",
        status=201,
        response=DomainResponse,
        body=CreateDomainRequest,
        errors=(409,),
    )
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = structure(json_body(req), CreateDomainRequest)
        domain = domains.claim_domain(
            self._uow(),
            self._clock,
            self._quotas,
            account_id=req.context.account_id,
            name=body.name,
        )
        resp.status = falcon.HTTP_201
        resp.media = unstructure(DomainResponse.of(domain))


class DomainItem:
    def __init__(self, uow: Uow) -> None:
        self._uow = uow

    @operation("getDomain", "Get domain", response=DomainResponse, errors=(404,))
    def on_get(self, req: falcon.Request, resp: falcon.Response, id: UUID) -> None:
        domain = domains.get_domain(self._uow(), account_id=req.context.account_id, domain_id=id)
        resp.media = unstructure(DomainResponse.of(domain))

    @operation("deleteDomain", "Delete domain", status=204, errors=(404,))
    def on_delete(self, req: falcon.Request, resp: falcon.Response, id: UUID) -> None:
        domains.delete_domain(self._uow(), account_id=req.context.account_id, domain_id=id)
        resp.status = falcon.HTTP_204


class DomainVerification:
    def __init__(self, uow: Uow, clock: Clock, dns: TxtResolver) -> None:
        self._uow, self._clock, self._dns = uow, clock, dns

    @operation(
        "verifyDomain",
        "Trigger DNS TXT verification for a domain",
        response=DomainResponse,
        errors=(404, 409, 422),
    )
    def on_post(self, req: falcon.Request, resp: falcon.Response, id: UUID) -> None:
        domain = domains.verify_domain(
            self._uow(), self._clock, self._dns, account_id=req.context.account_id, domain_id=id
        )
        resp.media = unstructure(DomainResponse.of(domain))
