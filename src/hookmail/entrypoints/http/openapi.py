"""The OpenAPI 3.1 document, generated: paths from the route table, security from the
`@public` markers, operations from the `@operation` declared beside each responder, schemas
from the classes they name (`schemas.py`, through `json_schema.Schemas`), and the payload we
POST to targets from `hookmail.webhooks.WebhookPayload`. See docs/architecture.md.
"""

from __future__ import annotations

import re
import sys
import types
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar, get_args

import attrs
from attrs import frozen

from hookmail import __version__
from hookmail.entrypoints.http.json_schema import Json, Schemas
from hookmail.entrypoints.http.schemas import Error
from hookmail.webhooks import WebhookPayload

R = TypeVar("R", bound=Callable[..., None])

HTTP_METHODS = ("get", "post", "put", "patch", "delete")
_REASONS = {
    400: "Invalid JSON",
    401: "Unauthorized",
    404: "Not found",
    409: "Conflict",
    413: "Payload too large",
    422: "Validation error",
    429: "Too many attempts",
    503: "Store unavailable",
}


@frozen(kw_only=True)
class Operation:
    """What a responder tells the document; statuses that follow from the rest are added:
    401 unless `@public`, 400/413/422 with a body, 422 with query parameters."""

    id: str
    summary: str
    status: int = 200
    response: object = None  # an attrs class, list[cls], a union of classes, or None
    body: type | None = None
    query: type | None = None  # an attrs class whose fields are the query parameters
    errors: tuple[int, ...] = ()
    tag: str | None = None  # else the resource's `tag`, its module's `TAG`, its module's name
    media_type: str = "application/json"  # of the success response (`bytes` for a raw body)
    body_required: bool = True


def operation(
    id: str,
    summary: str,
    *,
    status: int = 200,
    response: object = None,
    body: type | None = None,
    query: type | None = None,
    errors: Iterable[int] = (),
    tag: str | None = None,
    media_type: str = "application/json",
    body_required: bool = True,
) -> Callable[[R], R]:
    """Declare a responder's operation for the document (see docs/architecture.md)."""
    declared = Operation(
        id=id,
        summary=summary,
        status=status,
        response=response,
        body=body,
        query=query,
        errors=tuple(errors),
        tag=tag,
        media_type=media_type,
        body_required=body_required,
    )

    def mark(responder: R) -> R:
        responder.__hookmail_operation__ = declared  # type: ignore[attr-defined]
        return responder

    return mark


_CONVERTERS: Mapping[str, Json] = {
    "uuid": {"type": "string", "format": "uuid"},
    "int": {"type": "integer"},
    "": {"type": "string"},
}


def _path_parameters(template: str, described: Mapping[str, str]) -> list[Json]:
    found = re.findall(r"\{(\w+)(?::(\w+))?[^}]*\}", template)
    return [
        {
            "in": "path",
            "name": name,
            "required": True,
            **({"description": described[name]} if name in described else {}),
            "schema": dict(_CONVERTERS[converter]),
        }
        for name, converter in found
    ]


def _query_parameters(query: type, schemas: Schemas) -> list[Json]:
    fields = attrs.fields(attrs.resolve_types(query))
    return [
        {
            "in": "query",
            "name": field.name,
            "required": field.default is attrs.NOTHING,
            **({"description": field.metadata["doc"]} if "doc" in field.metadata else {}),
            "schema": {**schemas.of(_present(field.type)), **field.metadata.get("schema", {})},
        }
        for field in fields
    ]


def _present(kind: Any) -> Any:
    """`X` of `X | None`: a query parameter is absent or has a value, never null."""
    args = [arg for arg in get_args(kind) if arg is not types.NoneType]
    return args[0] if len(args) == 1 and types.NoneType in get_args(kind) else kind


def _json(schema: Json) -> Json:
    return {"application/json": {"schema": schema}}


def _operation(resource: object, responder: Any, template: str, schemas: Schemas) -> Json:
    declared: Operation | None = getattr(responder, "__hookmail_operation__", None)
    if declared is None:
        raise LookupError(f"{responder.__qualname__} declares no @operation")
    secured = not getattr(responder, "__hookmail_public__", False)
    ok: Json = {"description": declared.summary}
    if declared.response is not None:
        ok["content"] = {declared.media_type: {"schema": schemas.of(declared.response)}}
    errors = set(declared.errors) | ({401} if secured else set())
    errors |= {400, 413, 422} if declared.body is not None else set()
    errors |= {422} if declared.query is not None else set()
    responses = {str(declared.status): ok} | {
        str(code): {"description": _REASONS[code], "content": _json(schemas.of(Error))}
        for code in sorted(errors)
    }
    owner = resource if isinstance(resource, type) else type(resource)
    module = sys.modules[owner.__module__]
    tag = declared.tag or getattr(owner, "tag", None) or getattr(module, "TAG", None)
    described: Mapping[str, str] = getattr(owner, "parameters", None) or getattr(
        module, "PARAMETERS", {}
    )
    parameters = _path_parameters(template, described)
    if declared.query is not None:
        parameters += _query_parameters(declared.query, schemas)
    result: Json = {
        "operationId": declared.id,
        "summary": declared.summary,
        "tags": [tag or module.__name__.rpartition(".")[2]],
        "responses": responses,
        "security": [{"bearer": []}] if secured else [],
    }
    if declared.body is not None:
        result["requestBody"] = {
            "required": declared.body_required,
            "content": _json(schemas.of(declared.body)),
        }
    if parameters:
        result["parameters"] = parameters
    return result


def _signature_header(name: str, description: str) -> Json:
    return {
        "in": "header",
        "name": name,
        "required": True,
        "description": description,
        "schema": {"type": "string"},
    }


def _webhooks(schemas: Schemas) -> Json:
    """What hookmail POSTs to a webhook's target_url (SPEC §5), for generators and validators."""
    return {
        "mailReceived": {
            "post": {
                "operationId": "mailReceived",
                "summary": "A mail arrived for one of your webhooks",
                "description": "The default payload (a payload_template replaces the body), "
                "signed per Standard Webhooks: verify with hookmail.webhooks.verify. Any 2xx "
                "means delivered; anything else is retried per HOOKMAIL_RETRY_SCHEDULE, except "
                "410, which stops the retries of this delivery.",
                "parameters": [
                    _signature_header(
                        "webhook-id", "The delivery's id, the payload's id; stable across retries"
                    ),
                    _signature_header(
                        "webhook-timestamp", "Unix seconds when this attempt was signed"
                    ),
                    _signature_header(
                        "webhook-signature",
                        "v1,<base64 HMAC-SHA256(key, id.timestamp.body)>, space-separated, one per "
                        "secret (two during the 24 hours after a secret change)",
                    ),
                ],
                "requestBody": {"required": True, "content": _json(schemas.of(WebhookPayload))},
                "responses": {
                    "2XX": {"description": "Delivered"},
                    "410": {"description": "Gone: no more attempts for this delivery"},
                    "default": {"description": "Failed: retried later"},
                },
                "security": [],
            }
        }
    }


def document(routes: Iterable[tuple[str, object]]) -> Json:
    """The document of `routes`: (URI template, resource) pairs as given to `add_route`; a
    resource class stands for its instances (only its responders' declarations are read)."""
    schemas = Schemas()
    paths: Json = {}
    for template, resource in routes:
        path = re.sub(r"\{(\w+)[^}]*\}", r"{\1}", template)
        for method in HTTP_METHODS:
            responder = getattr(resource, f"on_{method}", None)
            if responder is not None:
                paths.setdefault(path, {})[method] = _operation(
                    resource, responder, template, schemas
                )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "hookmail",
            "version": __version__,
            "description": "Inbound email to signed webhooks.",
        },
        "paths": paths,
        "webhooks": _webhooks(schemas),
        "components": {
            "schemas": schemas.components,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
    }
