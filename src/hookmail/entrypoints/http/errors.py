"""Every failure becomes `{"code", "error"}` with the right status; never HTML or a traceback."""

from __future__ import annotations

import logging
from typing import Final

import falcon
from cattrs import transform_error
from cattrs.errors import BaseValidationError
from sqlalchemy.exc import OperationalError

from hookmail.core.errors import (
    Conflict,
    DomainError,
    InvalidInput,
    NotFound,
    PreconditionFailed,
    RateLimited,
    Unauthenticated,
)

log = logging.getLogger("hookmail.http")

_STATUS: Final = (
    (Unauthenticated, falcon.HTTP_401),
    (NotFound, falcon.HTTP_404),
    (Conflict, falcon.HTTP_409),
    (InvalidInput, falcon.HTTP_422),
    (PreconditionFailed, falcon.HTTP_422),
    (RateLimited, falcon.HTTP_429),
)

_HTTP_CODES: Final = {
    400: "bad_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    411: "length_required",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


_SENTENCES: Final = {
    404: "there is nothing at this path",
    405: "this path does not accept that method",
}


class InvalidJson(falcon.HTTPBadRequest):
    def __init__(self, reason: str) -> None:
        super().__init__(title="invalid_json", description=reason)


class PayloadTooLarge(falcon.HTTPContentTooLarge):
    def __init__(self, limit: int) -> None:
        super().__init__(description=f"the request body is over {limit} bytes")


def status_for(ex: DomainError) -> str:
    """The HTTP status of a refusal, by its family: the API's and the dashboard's."""
    return next((s for cls, s in _STATUS if isinstance(ex, cls)), falcon.HTTP_400)


def handle_domain_error(
    req: falcon.Request, resp: falcon.Response, ex: DomainError, _: object
) -> None:
    resp.status = status_for(ex)
    resp.media = {"code": ex.code, "error": str(ex)}
    if isinstance(ex, RateLimited):
        resp.set_header("Retry-After", str(ex.retry_after))


def handle_invalid_body(
    req: falcon.Request, resp: falcon.Response, ex: BaseValidationError, _: object
) -> None:
    resp.status = falcon.HTTP_422  # "invalid value for type, expected str @ $.email"
    resp.media = {"code": "validation_error", "error": "; ".join(transform_error(ex))}


def handle_store_down(
    req: falcon.Request, resp: falcon.Response, ex: OperationalError, _: object
) -> None:
    log.error("store unavailable: %s", ex.orig)
    resp.status = falcon.HTTP_503
    resp.set_header("Retry-After", "5")
    resp.media = {"code": "store_unavailable", "error": "the store is unavailable; try again"}


def handle_unexpected(req: falcon.Request, resp: falcon.Response, ex: Exception, _: object) -> None:
    if isinstance(ex, falcon.HTTPError):  # Falcon's own errors keep their status
        raise ex
    log.exception("unhandled error on %s %s", req.method, req.path)
    resp.status = falcon.HTTP_500
    resp.media = {"code": "internal_error", "error": "something went wrong on our side"}


def serialize_http_error(req: falcon.Request, resp: falcon.Response, ex: falcon.HTTPError) -> None:
    resp.content_type = falcon.MEDIA_JSON
    code = ex.title if ex.title == "invalid_json" else None
    code = code or _HTTP_CODES.get(ex.status_code, f"http_{ex.status_code}")
    resp.media = {"code": code, "error": ex.description or _SENTENCES.get(ex.status_code, ex.title)}
