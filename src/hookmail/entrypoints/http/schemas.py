"""Request bodies and response views, and the cattrs converter between them and JSON."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TypeVar
from uuid import UUID

import cattrs
from attrs import frozen
from cattrs.preconf.json import make_converter

from hookmail.core.accounts import Account

T = TypeVar("T")

codec = make_converter(forbid_extra_keys=False)


def _strict(kind: type[Any]) -> None:
    """No coercion: `"password": 123` is a 422, not the string "123"."""

    def structure(value: object, _: type[Any]) -> object:
        if type(value) is not kind:
            raise TypeError(f"expected {kind.__name__}, got {type(value).__name__}")
        return value

    codec.register_structure_hook(kind, structure)


for _kind in (str, bool, int):
    _strict(_kind)

codec.register_unstructure_hook(UUID, str)
codec.register_unstructure_hook(
    datetime, lambda value: value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
)


def structure(data: object, cls: type[T]) -> T:
    """`data` as a `cls`, or cattrs' ClassValidationError (mapped to 422 naming the field)."""
    if not isinstance(data, dict):
        raise cattrs.errors.ClassValidationError(
            "the request body must be a JSON object", [TypeError("expected a JSON object")], cls
        )
    return codec.structure(data, cls)


# -- bodies -----------------------------------------------------------------------------


@frozen
class EmailPasswordBody:
    email: str
    password: str


@frozen
class ChangePasswordBody:
    current_password: str
    new_password: str


@frozen
class TimezoneBody:
    timezone: str


@frozen
class EmailBody:
    email: str


@frozen
class ConfirmResetBody:
    token: str
    new_password: str


@frozen
class DeleteAccountBody:
    password: str
    code: str | None = None


@frozen
class CodeBody:
    code: str


@frozen
class CompleteTotpBody:
    totp_token: str
    code: str


@frozen
class RefreshBody:
    refresh_token: str


# -- views ------------------------------------------------------------------------------


@frozen
class AccountView:
    id: UUID
    email: str
    timezone: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, account: Account) -> AccountView:
        return cls(
            id=account.id,
            email=account.email,
            timezone=account.timezone,
            created_at=account.created_at,
            updated_at=account.updated_at,
        )


def unstructure(view: object) -> Any:
    return codec.unstructure(view)
