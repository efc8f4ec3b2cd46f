"""Accounts: who signs in, with what password, timezone and second factor."""

from __future__ import annotations

import contextlib
import unicodedata
import zoneinfo
from datetime import datetime
from uuid import UUID, uuid4

import idna
from attrs import evolve, field, frozen

from hookmail.core.errors import InvalidField

MIN_PASSWORD = 8
MAX_PASSWORD = 256
MAX_TIMEZONE = 64
MAX_EMAIL = 320  # RFC 5321: 64 + @ + 255


def check_password(raw: str, *, field_name: str = "password") -> str:
    """Return the password if it is acceptable, else raise InvalidField naming the field."""
    if not MIN_PASSWORD <= len(raw) <= MAX_PASSWORD:
        raise InvalidField(field_name, f"must be {MIN_PASSWORD} to {MAX_PASSWORD} characters")
    if not raw.strip():
        raise InvalidField(field_name, "must not be only whitespace")
    if not is_unicode(raw):
        raise InvalidField(field_name, "must be valid Unicode (it holds a lone surrogate)")
    return raw


def is_unicode(text: str) -> bool:
    """False when `text` holds a lone surrogate, which no UTF-8 encoder (or hash) accepts."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def email_normal_form(raw: str) -> str:
    """The one form in which an email is stored and compared, at sign-up, sign-in and reset:
    trimmed, NFC, lower-cased, the domain IDNA-encoded (UTS 46) as hookmail stores every
    domain. So `idn@bücher.example`, `IDN@xn--bcher-kva.example` and an NFD `josé` each meet
    their account. Total and idempotent: a string that is no address still has a form (which
    matches no account); syntax is checked at sign-up only."""
    text = unicodedata.normalize("NFC", unicodedata.normalize("NFC", raw.strip()).lower())
    local, at, domain = text.rpartition("@")
    if not at:
        return text
    with contextlib.suppress(idna.IDNAError, UnicodeError, ValueError):  # else as it is
        domain = idna.encode(domain, uts46=True).decode("ascii")
    return f"{local}@{domain}"


def check_timezone(raw: str) -> str:
    """Return the IANA zone name if zoneinfo knows it, else raise InvalidField.

    The length is checked first: zoneinfo turns the name into a file path, and a long one
    fails with OSError (name too long). The error quotes at most the first 64 characters.
    """
    if not 1 <= len(raw) <= MAX_TIMEZONE:
        raise InvalidField("timezone", f"must be 1 to {MAX_TIMEZONE} characters")
    try:
        zoneinfo.ZoneInfo(raw)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError, OSError):
        raise InvalidField("timezone", f"{raw!r} is not an IANA time zone name") from None
    return raw


@frozen(kw_only=True)
class Totp:
    """TOTP second factor. `enabled` is false between setup and enable."""

    secret: str = field(repr=False)
    enabled: bool = False
    last_counter: int = -1  # the 30-second step of the last accepted code: no replay
    backup_code_hashes: tuple[str, ...] = field(default=(), repr=False)


@frozen(kw_only=True)
class Account:
    id: UUID
    email: str
    password_hash: str = field(repr=False)
    timezone: str = "UTC"
    token_version: int = 0  # bumped to revoke every token issued before
    totp: Totp | None = None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def open(cls, *, email: str, password_hash: str, now: datetime) -> Account:
        return cls(
            id=uuid4(), email=email, password_hash=password_hash, created_at=now, updated_at=now
        )

    @property
    def totp_enabled(self) -> bool:
        return self.totp is not None and self.totp.enabled

    def with_password(self, password_hash: str, now: datetime) -> Account:
        """A new password revokes every token issued under the old one."""
        return evolve(
            self,
            password_hash=password_hash,
            token_version=self.token_version + 1,
            updated_at=now,
        )

    def with_timezone(self, timezone: str, now: datetime) -> Account:
        return evolve(self, timezone=timezone, updated_at=now)

    def with_totp(self, totp: Totp | None, now: datetime) -> Account:
        return evolve(self, totp=totp, updated_at=now)
