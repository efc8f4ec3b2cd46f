"""/api/v1/domains…"""

from __future__ import annotations

from uuid import UUID

import falcon

from hookmail.core.ports import Clock, TxtResolver
from hookmail.core.services import domains
from hookmail.entrypoints.http.context import Uow, json_body
from hookmail.entrypoints.http.schemas import DomainBody, DomainView, structure, unstructure


class DomainCollection:
    def __init__(self, uow: Uow, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        found = domains.list_domains(self._uow(), account_id=req.context.account_id)
        resp.media = [unstructure(DomainView.of(d)) for d in found]

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = structure(json_body(req), DomainBody)
        domain = domains.claim_domain(
            self._uow(), self._clock, account_id=req.context.account_id, name=body.name
        )
        resp.status = falcon.HTTP_201
        resp.media = unstructure(DomainView.of(domain))


class DomainItem:
    def __init__(self, uow: Uow) -> None:
        self._uow = uow

    def on_get(self, req: falcon.Request, resp: falcon.Response, id: UUID) -> None:
        domain = domains.get_domain(self._uow(), account_id=req.context.account_id, domain_id=id)
        resp.media = unstructure(DomainView.of(domain))

    def on_delete(self, req: falcon.Request, resp: falcon.Response, id: UUID) -> None:
        domains.delete_domain(self._uow(), account_id=req.context.account_id, domain_id=id)
        resp.status = falcon.HTTP_204


class DomainVerification:
    def __init__(self, uow: Uow, clock: Clock, dns: TxtResolver) -> None:
        self._uow, self._clock, self._dns = uow, clock, dns

    def on_post(self, req: falcon.Request, resp: falcon.Response, id: UUID) -> None:
        domain = domains.verify_domain(
            self._uow(),
            self._clock,
            self._dns,
            account_id=req.context.account_id,
            domain_id=id,
        )
        resp.media = unstructure(DomainView.of(domain))
