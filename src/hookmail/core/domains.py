"""Domains: claimed by an account, proved by a DNS TXT record, or public to every account."""

from __future__ import annotations

import ipaddress
import re
import secrets
from datetime import datetime
from uuid import UUID, uuid4

import idna
from attrs import evolve, field, frozen

from hookmail.core.errors import InvalidField

VERIFY_PREFIX = "hookmail-verify="
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


@frozen
class DomainName:
    """A lower-cased, IDNA-encoded host name of at least two labels; never an IP address."""

    value: str

    @classmethod
    def parse(cls, raw: str, *, field_name: str = "name") -> DomainName:
        text = raw.strip()
        if not text:
            raise InvalidField(field_name, "must not be empty")
        if text.endswith("."):
            raise InvalidField(field_name, "must not end with a dot")
        try:
            ipaddress.ip_address(text.strip("[]"))
        except ValueError:
            pass
        else:
            raise InvalidField(field_name, "must be a domain name, not an IP address")
        try:
            ascii_name = idna.encode(text, uts46=True).decode("ascii")
        except (idna.IDNAError, UnicodeError, ValueError) as exc:
            raise InvalidField(field_name, f"{text!r} is not a valid domain name: {exc}") from None
        labels = ascii_name.split(".")
        if len(labels) < 2:
            raise InvalidField(field_name, "needs at least two labels, like example.com")
        if len(ascii_name) > 253 or not all(_LABEL.match(label) for label in labels):
            raise InvalidField(field_name, f"{text!r} is not a valid domain name")
        if labels[-1].isdigit():
            raise InvalidField(field_name, "the top-level label can't be numeric")
        return cls(ascii_name)

    def within(self, parent: DomainName) -> bool:
        """True for the domain itself and its subdomains."""
        return self.value == parent.value or self.value.endswith("." + parent.value)

    def __str__(self) -> str:
        return self.value


@frozen(kw_only=True)
class Domain:
    id: UUID
    account_id: UUID | None  # None for a public domain
    name: DomainName
    verification_token: str = field(repr=False)
    verified: bool = False
    is_public: bool = False
    created_at: datetime
    updated_at: datetime

    @classmethod
    def claim(cls, *, account_id: UUID, name: DomainName, now: datetime) -> Domain:
        return cls(
            id=uuid4(),
            account_id=account_id,
            name=name,
            verification_token=secrets.token_hex(16),
            created_at=now,
            updated_at=now,
        )

    @classmethod
    def public(cls, *, name: DomainName, now: datetime) -> Domain:
        return cls(
            id=uuid4(),
            account_id=None,
            name=name,
            verification_token="",
            verified=True,
            is_public=True,
            created_at=now,
            updated_at=now,
        )

    @property
    def txt_name(self) -> str:
        """Where the proof is published."""
        return f"_hookmail.{self.name.value}"

    @property
    def txt_value(self) -> str:
        return f"{VERIFY_PREFIX}{self.verification_token}"

    def usable_by(self, account_id: UUID) -> bool:
        """May this account put webhooks on it?"""
        return self.verified and (self.is_public or self.account_id == account_id)

    def visible_to(self, account_id: UUID) -> bool:
        return self.is_public or self.account_id == account_id

    def verify(self, now: datetime) -> Domain:
        return evolve(self, verified=True, updated_at=now)
