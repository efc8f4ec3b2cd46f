"""Forms derived from the same input classes the API structures its bodies into.

A field of `WebhookInput` or `PolicyInput` is a form field; its type decides the control
(a checkbox for a flag, a number, a text area for headers) and how the posted text becomes
the value the use case takes. A new input field shows up in the dashboard by itself.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from enum import Enum
from typing import Any, TypeVar
from uuid import UUID

import attrs
from attrs import frozen

from hookmail.core.errors import InvalidField

T = TypeVar("T")

# The labels SPEC §6.8 names; other fields get their name in words.
LABELS: Mapping[str, str] = {
    "address": "Address",
    "target_url": "Target URL",
    "name": "Name",
    "smtp_credentials": "SMTP credentials",
    "allowed_source_ips": "Allowed source IPs",
    "allowed_spf_domains": "Allowed SPF domains",
    "allowed_dkim_domains": "Allowed DKIM domains",
    "require_smtp_auth": "Require SMTP AUTH",
    "require_spf": "Require SPF",
    "require_dkim": "Require DKIM",
    "require_dmarc": "Require DMARC",
    "smtp_security_policy_id": "SMTP policy",
    "rate_limit": "Rate limit (per minute, 0 = none)",
}

HINTS: Mapping[str, str] = {
    "smtp_credentials": "user:password pairs, one per line; stored passwords show as ********",
    "custom_headers": "One header per line: Name: value",
    "payload_template": "Mustache; empty sends the standard JSON payload",
    "allowed_source_ips": "Comma-separated IPs or CIDRs; empty allows any",
}


def label(name: str) -> str:
    """The label of the form field for input field `name`."""
    return LABELS.get(name, name.replace("_", " ").capitalize())


@frozen
class Field:
    name: str
    label: str
    kind: str  # text, textarea, checkbox, number, select
    value: str
    hint: str = ""
    options: tuple[tuple[str, str], ...] = ()  # (value, text) of a select

    @property
    def checked(self) -> bool:
        return self.value == "on"


def _kind(tp: Any) -> type | None:
    """The one concrete type of `X | None` (or `X`)."""
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        return _kind(args[0]) if len(args) == 1 else None
    origin = typing.get_origin(tp)
    return origin if origin is not None else tp  # type: ignore[no-any-return]


def _types(cls: type) -> dict[str, type | None]:
    hints = typing.get_type_hints(cls)
    return {f.name: _kind(hints[f.name]) for f in attrs.fields(cls)}


def fields(
    cls: type,
    values: Mapping[str, object],
    *,
    skip: frozenset[str] = frozenset(),
    options: Mapping[str, tuple[tuple[str, str], ...]] | None = None,
) -> list[Field]:
    """The form fields of request class `cls`, filled from `values` (the API's response
    view, or a posted form). `options` makes a field a choice among (value, text) pairs."""
    found = []
    choices = dict(options or {})
    types_ = _types(cls)
    for f in attrs.fields(cls):  # an enum type or a schema enum (delivery_mode) is a choice
        enum = f.metadata.get("schema", {}).get("enum")
        kind = types_.get(f.name)
        if isinstance(kind, type) and issubclass(kind, Enum):
            enum = [member.value for member in kind]
        if enum and f.name not in choices:
            choices[f.name] = tuple((str(v), str(v)) for v in enum if v is not None)
    for name, kind in types_.items():
        if name in skip or kind is None:
            continue
        raw = values.get(name)
        text = label(name)
        hint = HINTS.get(name, "")
        if name in choices:
            found.append(Field(name, text, "select", _text(raw), hint, choices[name]))
        elif kind is bool:
            found.append(Field(name, text, "checkbox", "on" if raw in (True, "on") else "", hint))
        elif kind is int:
            found.append(Field(name, text, "number", _text(raw), hint))
        elif kind is dict:
            found.append(Field(name, text, "textarea", _headers_text(raw), hint))
        elif name in HINTS or name.endswith("template"):
            found.append(Field(name, text, "textarea", _text(raw), hint))
        else:
            found.append(Field(name, text, "text", _text(raw), hint))
    return found


def structure(cls: type[T], form: Mapping[str, str], **extra: object) -> T:
    """The input `cls` from a posted form: every field the form shows is given (an
    unchecked box is false), an empty number or choice is "not given"."""
    values: dict[str, object] = {}
    for name, kind in _types(cls).items():
        if name in extra or kind is None:
            continue
        if kind is bool:
            if f"{name}__shown" in form:
                values[name] = form.get(name) == "on"
            continue
        if name not in form:
            continue
        raw = form[name]
        if kind is int:
            values[name] = _int(name, raw) if raw.strip() else None
        elif kind is UUID:
            values[name] = _uuid(name, raw) if raw.strip() else None
        elif isinstance(kind, type) and issubclass(kind, Enum):
            values[name] = raw.strip() or None  # the use case checks the choice
        elif kind is dict:
            values[name] = _headers(name, raw)
        else:
            values[name] = raw.replace("\r\n", "\n")
    return cls(**values, **extra)


def _text(raw: object) -> str:
    if raw is None:
        return ""
    if isinstance(raw, Enum):
        return str(raw.value)
    if isinstance(raw, dict):
        return _headers_text(raw)
    return str(raw)


def _headers_text(raw: object) -> str:
    if isinstance(raw, dict):
        return "\n".join(f"{k}: {v}" for k, v in raw.items())
    return "" if raw is None else str(raw)


def _headers(name: str, raw: str) -> dict[str, str]:
    headers = {}
    for line in raw.splitlines():
        if not line.strip():
            continue
        key, colon, value = line.partition(":")
        if not colon:
            raise InvalidField(name, f"{line.strip()!r} is not 'Name: value'")
        headers[key.strip()] = value.strip()
    return headers


def _int(name: str, raw: str) -> int:
    try:
        return int(raw.strip())
    except ValueError:
        raise InvalidField(name, "must be a whole number") from None


def _uuid(name: str, raw: str) -> UUID:
    try:
        return UUID(raw.strip())
    except ValueError:
        raise InvalidField(name, "is not one of the choices") from None
