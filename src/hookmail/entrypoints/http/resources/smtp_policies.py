"""/api/v1/smtp-policies…"""

from __future__ import annotations

from uuid import UUID

import falcon

from hookmail.core.ports import Clock, PasswordHasher
from hookmail.core.services import smtp_policies
from hookmail.core.services.smtp_policies import PolicyInput
from hookmail.entrypoints.http.context import Uow, json_body
from hookmail.entrypoints.http.schemas import PolicyView, structure, unstructure


def _input(req: falcon.Request) -> PolicyInput:
    return structure(json_body(req), PolicyInput)


class PolicyCollection:
    def __init__(self, uow: Uow, clock: Clock, hasher: PasswordHasher) -> None:
        self._uow, self._clock, self._hasher = uow, clock, hasher

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        found = smtp_policies.list_policies(self._uow(), account_id=req.context.account_id)
        resp.media = [unstructure(PolicyView.of(p)) for p in found]

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        policy = smtp_policies.create_policy(
            self._uow(),
            self._clock,
            self._hasher,
            account_id=req.context.account_id,
            given=_input(req),
        )
        resp.status = falcon.HTTP_201
        resp.media = unstructure(PolicyView.of(policy))


class PolicyItem:
    def __init__(self, uow: Uow, clock: Clock, hasher: PasswordHasher) -> None:
        self._uow, self._clock, self._hasher = uow, clock, hasher

    def on_get(self, req: falcon.Request, resp: falcon.Response, id: UUID) -> None:
        policy = smtp_policies.get_policy(
            self._uow(), account_id=req.context.account_id, policy_id=id
        )
        resp.media = unstructure(PolicyView.of(policy))

    def on_put(self, req: falcon.Request, resp: falcon.Response, id: UUID) -> None:
        policy = smtp_policies.update_policy(
            self._uow(),
            self._clock,
            self._hasher,
            account_id=req.context.account_id,
            policy_id=id,
            given=_input(req),
        )
        resp.media = unstructure(PolicyView.of(policy))

    def on_delete(self, req: falcon.Request, resp: falcon.Response, id: UUID) -> None:
        smtp_policies.delete_policy(self._uow(), account_id=req.context.account_id, policy_id=id)
        resp.status = falcon.HTTP_204
