"""Webhooks: an address on a domain, a target URL, a signing secret, and how to deliver."""

from __future__ import annotations

import base64
import re
import secrets
import unicodedata
from collections.abc import Mapping
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TypeVar
from urllib.parse import quote, urlsplit, urlunsplit
from uuid import UUID, uuid4

import idna
from attrs import evolve, field, frozen

from hookmail.core import templates
from hookmail.core.domains import DomainName
from hookmail.core.errors import InvalidField

T = TypeVar("T")

MAX_URL = 2048
MIN_SECRET = 24
MAX_SECRET = 256
MAX_HEADERS = 20
MAX_TEMPLATE = 64 * 1024
MAX_RATE_LIMIT = 1_000_000
SECRET_OVERLAP = timedelta(hours=24)
CATCH_ALL = "*"
# RFC 2142 role mailboxes: on a domain every account shares, nobody may take them
ROLE_NAMES = frozenset({"postmaster", "abuse", "hostmaster", "webmaster", "security", "noc"})

_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,100}$")  # RFC 9110 field-name
# what HTTP/1.1 sends as a header value: Latin-1, printable, HTAB allowed, no CR or LF
_HEADER_VALUE = re.compile("[\t\x20-\x7e\xa0-\xff]*")
_FORBIDDEN_HEADERS = {"host", "content-length", "transfer-encoding", "connection"}
RESERVED_HEADER_PREFIXES = ("webhook-", "hookmail-")  # ours: signature and raw-format envelope
_LOCAL_ASCII = frozenset("abcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+/=?^_`{|}~.-")
MAX_LOCAL = 64  # octets (RFC 5321)


def _valid_local(local: str) -> bool:
    """A dot-atom local part; UTF-8 letters and symbols count as atom characters (RFC 6531,
    SMTPUTF8), controls, blanks and unassigned code points do not."""
    if local.startswith(".") or local.endswith(".") or ".." in local:
        return False
    if not all(
        ch in _LOCAL_ASCII or (ch > "\x7f" and unicodedata.category(ch)[0] not in "CZ")
        for ch in local
    ):
        return False
    return len(local.encode("utf-8")) <= MAX_LOCAL


@frozen
class Address:
    """A lower-cased `local@domain`; local `*` is the domain's catch-all."""

    local: str
    domain: DomainName

    @classmethod
    def parse(cls, raw: str, *, field_name: str = "address") -> Address:
        local, at, domain = raw.strip().lower().rpartition("@")
        if not at or not local:
            raise InvalidField(field_name, "must be a full address, local@domain")
        local = unicodedata.normalize("NFC", local)  # one form, however the client typed it
        if local != CATCH_ALL and not _valid_local(local):
            raise InvalidField(field_name, f"{local!r} is not a valid local part")
        return cls(local, DomainName.parse(domain, field_name=field_name))

    @property
    def is_catch_all(self) -> bool:
        return self.local == CATCH_ALL

    @property
    def base(self) -> str:
        """The local part without its `+tag`: the mailbox a tagged address reaches."""
        return self.local.partition("+")[0]

    def check_shareable(self) -> Address:
        """Self, if an account may take it on a public domain (shared by every account):
        never the catch-all, nor an RFC 2142 role name (with or without a `+tag`), so no
        account takes mail meant for the domain or for others."""
        if self.is_catch_all:
            raise InvalidField("address", "a catch-all can't be created on a public domain")
        if self.base in ROLE_NAMES:
            raise InvalidField(
                "address", f"{self.base!r} is reserved on a public domain (RFC 2142 role name)"
            )
        return self

    def __str__(self) -> str:
        return f"{self.local}@{self.domain.value}"


def candidates(recipient: Address) -> list[str]:
    """The webhook addresses that may take mail for `recipient`, best first:
    the exact address, then `local` for `local+tag`, then the domain's catch-all."""
    found = [str(recipient)]
    base, plus, _tag = recipient.local.partition("+")
    if plus and base:
        found.append(f"{base}@{recipient.domain.value}")
    found.append(f"{CATCH_ALL}@{recipient.domain.value}")
    return found


def route(recipient: Address, by_address: Mapping[str, T]) -> T | None:
    """The first match among `candidates(recipient)`, or None."""
    return next((by_address[a] for a in candidates(recipient) if a in by_address), None)


def check_target_url(raw: str) -> str:
    """An absolute http(s) URL; a non-ASCII host or path is kept as given and sent encoded
    (see ascii_url), so it must be encodable now."""
    if len(raw) > MAX_URL:
        raise InvalidField("target_url", f"must be at most {MAX_URL} characters")
    try:
        parts = urlsplit(raw)
    except ValueError:  # e.g. an unbalanced [ in the host
        raise InvalidField("target_url", "must be an absolute http(s) URL") from None
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise InvalidField("target_url", "must be an absolute http(s) URL")
    if any(ch.isspace() or unicodedata.category(ch) in ("Cc", "Cs") for ch in raw):
        raise InvalidField("target_url", "must not contain spaces or control characters")
    try:
        _ = parts.port
    except ValueError:
        raise InvalidField("target_url", "has an invalid port") from None
    ascii_url(raw)
    return raw


# what quote() keeps in a path: RFC 3986 pchar and "/", and "%" so escapes stay as written
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"


def ascii_url(url: str) -> str:
    """The URL as it is sent: the host IDNA-encoded (UTS 46), userinfo, path, query and
    fragment percent-encoded as UTF-8; an ASCII URL is returned as it is. Raises InvalidField
    (target_url) when the host is no valid international domain name."""
    if url.isascii():
        return url
    parts = urlsplit(url)
    userinfo, at, hostport = parts.netloc.rpartition("@")
    host, colon, port = (
        hostport.partition(":") if not hostport.startswith("[") else (hostport, "", "")
    )
    if not host.isascii():
        try:
            host = idna.encode(host, uts46=True).decode("ascii")
        except (idna.IDNAError, UnicodeError, ValueError) as exc:
            raise InvalidField("target_url", f"the host can't be encoded as IDNA: {exc}") from None
    netloc = quote(userinfo, safe=_PATH_SAFE) + at + host + colon + port
    return urlunsplit(
        (
            parts.scheme,
            netloc,
            quote(parts.path, safe=_PATH_SAFE),
            quote(parts.query, safe=_PATH_SAFE + "?"),
            quote(parts.fragment, safe=_PATH_SAFE + "?"),
        )
    )


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def check_secret(raw: str) -> str:
    if not MIN_SECRET <= len(raw) <= MAX_SECRET:
        raise InvalidField("secret", f"must be {MIN_SECRET} to {MAX_SECRET} characters")
    if raw.startswith("whsec_"):
        try:
            base64.b64decode(raw[6:], validate=True)
        except ValueError:
            raise InvalidField("secret", "the part after whsec_ must be base64") from None
    return raw


def check_headers(headers: Mapping[str, str]) -> dict[str, str]:
    if len(headers) > MAX_HEADERS:
        raise InvalidField("custom_headers", f"at most {MAX_HEADERS} headers")
    for name, value in headers.items():
        lowered = name.lower()
        if not _TOKEN.match(name):
            raise InvalidField("custom_headers", f"{name!r} is not a valid header name")
        if lowered in _FORBIDDEN_HEADERS or lowered.startswith(RESERVED_HEADER_PREFIXES):
            raise InvalidField("custom_headers", f"{name!r} can't be set")
        if len(value) > 4096:
            raise InvalidField("custom_headers", f"the value of {name!r} is over 4096 characters")
        if not _HEADER_VALUE.fullmatch(value):
            raise InvalidField(
                "custom_headers",
                f"the value of {name!r} must be printable Latin-1 text on one line "
                "(no control characters, nothing past U+00FF such as € or an emoji)",
            )
    return dict(headers)


def check_template(raw: str) -> str:
    """A Mustache template, parsed now so a syntax error or a partial is a 422, not a
    failed delivery."""
    try:
        size = len(raw.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidField("payload_template", "must be valid Unicode text") from None
    if size > MAX_TEMPLATE:
        raise InvalidField("payload_template", "must be at most 64 KiB")
    templates.parse(raw)
    return raw


class DeliveryMode(StrEnum):
    QUEUE = "queue"  # accept the mail, then deliver from the queue
    SYNC = "sync"  # the SMTP session makes the first attempt before it answers DATA (§6.4)


def check_delivery_mode(raw: str) -> DeliveryMode:
    try:
        return DeliveryMode(raw)
    except ValueError:
        raise InvalidField("delivery_mode", "must be queue or sync") from None


FAILING = "failing"  # disabled_reason of a webhook hookmail paused after failing too long


class PayloadFormat(StrEnum):
    """What a delivery's body is (SPEC §6.5)."""

    JSON = "json"  # the §5 payload (or the rendered template)
    JSON_WITH_RAW = "json_with_raw"  # the same plus "raw_base64"
    RAW = "raw"  # the stored message itself, message/rfc822


def check_payload_format(raw: str | PayloadFormat) -> PayloadFormat:
    try:
        return PayloadFormat(raw)
    except ValueError:
        names = ", ".join(f.value for f in PayloadFormat)
        raise InvalidField("payload_format", f"must be one of {names}") from None


MAX_ATTACHMENT_URL_THRESHOLD = 2**40


def check_attachment_url_threshold(value: int) -> int:
    if not 0 <= value <= MAX_ATTACHMENT_URL_THRESHOLD:
        raise InvalidField(
            "attachment_url_threshold", "must be a number of bytes, 0 or more (null: inline)"
        )
    return value


def check_rate_limit(value: int) -> int:
    if not 0 <= value <= MAX_RATE_LIMIT:
        raise InvalidField("rate_limit", f"must be 0 (unlimited) to {MAX_RATE_LIMIT}")
    return value


@frozen(kw_only=True)
class Webhook:
    id: UUID
    account_id: UUID
    domain_id: UUID
    address: Address
    target_url: str
    secret: str = field(repr=False)
    previous_secret: str | None = field(default=None, repr=False)
    previous_secret_until: datetime | None = None
    custom_headers: dict[str, str] = field(factory=dict)
    payload_template: str | None = None
    payload_format: PayloadFormat = PayloadFormat.JSON
    attachment_url_threshold: int | None = None  # bytes; larger attachments go as URLs
    rate_limit: int = 0
    active: bool = True
    smtp_security_policy_id: UUID | None = None
    delivery_mode: DeliveryMode = DeliveryMode.QUEUE
    failing_since: datetime | None = None  # first failed attempt after the last success
    disabled_reason: str | None = None  # FAILING when hookmail, not the owner, paused it
    created_at: datetime
    updated_at: datetime

    @classmethod
    def new(
        cls,
        *,
        account_id: UUID,
        domain_id: UUID,
        address: Address,
        target_url: str,
        secret: str,
        now: datetime,
        **options: object,
    ) -> Webhook:
        return cls(
            id=uuid4(),
            account_id=account_id,
            domain_id=domain_id,
            address=address,
            target_url=target_url,
            secret=secret,
            created_at=now,
            updated_at=now,
            **options,  # type: ignore[arg-type]
        )

    def checked(self, *, format_given: bool = False) -> Webhook:
        """Self, if its fields agree: a template goes only with the JSON format."""
        if self.payload_template and self.payload_format is not PayloadFormat.JSON:
            name = "payload_format" if format_given else "payload_template"
            raise InvalidField(name, "a payload_template goes only with payload_format json")
        return self

    def with_secret(self, secret: str, now: datetime) -> Webhook:
        """A new secret; the old one keeps signing beside it for 24 hours."""
        if secret == self.secret:
            return self
        return evolve(
            self,
            secret=secret,
            previous_secret=self.secret,
            previous_secret_until=now + SECRET_OVERLAP,
            updated_at=now,
        )

    def signing_secrets(self, now: datetime) -> list[str]:
        """The secrets a delivery is signed with now: the current one, and the previous one
        while its overlap lasts."""
        found = [self.secret]
        if self.previous_secret and self.previous_secret_until and now < self.previous_secret_until:
            found.append(self.previous_secret)
        return found
