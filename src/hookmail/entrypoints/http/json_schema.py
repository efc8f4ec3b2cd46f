"""JSON Schema (2020-12, as OpenAPI 3.1 uses it) of Python types: attrs classes and
TypedDicts become named components; `Annotated[T, "text"]` gives a description; a field's
`metadata={"schema": {...}}` adds keywords (`minimum`, `maxProperties`, ...).

Ours, small, over `attrs.fields` and `typing.get_type_hints`: no maintained library does it
(apispec wants marshmallow schemas, apischema has no attrs support, attrs-jsonschema is
abandoned).
"""

from __future__ import annotations

import enum
import types
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import (
    Annotated,
    Any,
    Literal,
    Union,
    get_args,
    get_origin,
    get_type_hints,
    is_typeddict,
)
from uuid import UUID

import attrs

Json = dict[str, Any]


class Schemas:
    """JSON Schema of Python types; attrs classes become named components, by class name."""

    def __init__(self) -> None:
        self.components: Json = {}

    def of(self, kind: Any) -> Json:
        origin, args = get_origin(kind), get_args(kind)
        if kind is None or kind is types.NoneType:
            return {"type": "null"}
        if origin is Annotated:  # Annotated[T, "a description"]
            described = [a for a in args[1:] if isinstance(a, str)]
            return {**self.of(args[0]), **({"description": described[0]} if described else {})}
        if attrs.has(kind) or is_typeddict(kind):
            return self._component(kind)
        if origin in (Union, types.UnionType):
            return self._union(args)
        if origin is Literal:
            kinds = {_SCALARS[type(arg)]["type"] for arg in args}
            return {"enum": list(args), **({"type": kinds.pop()} if len(kinds) == 1 else {})}
        if origin in (list, tuple, Sequence):
            return {"type": "array", "items": self.of(args[0])}
        if origin in (dict, Mapping):
            return {"type": "object", "additionalProperties": self.of(args[1])}
        if isinstance(kind, type) and issubclass(kind, enum.Enum):
            return {"type": "string", "enum": [member.value for member in kind]}
        return dict(_SCALARS[kind])

    def _union(self, args: tuple[Any, ...]) -> Json:
        present = [self.of(arg) for arg in args if arg is not types.NoneType]
        nullable = len(present) < len(args)
        if len(present) == 1 and "type" in present[0] and nullable:
            nulled = {**present[0], "type": [present[0]["type"], "null"]}
            return {**nulled, "enum": [*nulled["enum"], None]} if "enum" in nulled else nulled
        options = present + ([{"type": "null"}] if nullable else [])
        return options[0] if len(options) == 1 else {"oneOf": options}

    def _component(self, cls: Any) -> Json:
        name = cls.__name__
        if name not in self.components:
            self.components[name] = {}  # placeholder: a class may refer to itself
            properties, required = {}, []
            if is_typeddict(cls):
                for key, kind in get_type_hints(cls, include_extras=True).items():
                    properties[key] = self.of(kind)
                required = [key for key in properties if key in cls.__required_keys__]
            else:
                for field in attrs.fields(attrs.resolve_types(cls)):
                    properties[field.name] = {
                        **self.of(field.type),
                        **field.metadata.get("schema", {}),
                    }
                    if field.default is attrs.NOTHING:
                        required.append(field.name)
            self.components[name] = {
                "type": "object",
                "required": required,
                "properties": properties,
                **({"description": cls.__doc__.strip()} if cls.__doc__ else {}),
            }
        return {"$ref": f"#/components/schemas/{name}"}


_SCALARS: Mapping[Any, Json] = {
    str: {"type": "string"},
    bool: {"type": "boolean"},
    int: {"type": "integer"},
    float: {"type": "number"},
    UUID: {"type": "string", "format": "uuid"},
    datetime: {"type": "string", "format": "date-time"},
    bytes: {"type": "string"},  # a raw body, in the operation's media type
}
