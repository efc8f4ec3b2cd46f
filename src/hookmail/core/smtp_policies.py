"""SMTP security policies: who may send to a webhook's address, checked at RCPT and after DATA.

The model, its parsing, and the pure decisions: does a policy admit this sender? Reasons as text."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Collection
from datetime import datetime
from uuid import UUID, uuid4

from attrs import evolve, field, frozen

from hookmail.core.domains import DomainName
from hookmail.core.errors import InvalidField
from hookmail.core.mail import AuthResults, SpfOutcome

MASK = "********"
MAX_CREDENTIALS = 20
MAX_CREDENTIAL_USER = 64
MAX_CREDENTIAL_PASSWORD = 256
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_SEPARATORS = re.compile(r"[,\n\r]+")


@frozen
class Credential:
    user: str
    password_hash: str = field(repr=False)


@frozen
class StoredLogin:
    """One stored credential, as SMTP AUTH reads it: whose it is and its hash."""

    policy_id: UUID
    user: str
    password_hash: str = field(repr=False)


def _items(raw: str, separators: re.Pattern[str] = re.compile(r"[,\s]+")) -> list[str]:
    return [item.strip() for item in separators.split(raw) if item.strip()]


def parse_networks(raw: str) -> tuple[Network, ...]:
    """A comma list of IPs and CIDRs, v4 and v6; empty means any source."""
    networks = []
    for item in _items(raw):
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise InvalidField(
                "allowed_source_ips", f"{item!r} is not an IP address or CIDR"
            ) from None
    return tuple(networks)


def format_networks(networks: tuple[Network, ...]) -> str:
    return ",".join(
        str(n.network_address) if n.prefixlen == n.max_prefixlen else str(n) for n in networks
    )


def parse_domains(raw: str, field_name: str) -> tuple[DomainName, ...]:
    """A comma list of domains; empty means any. Each admits its subdomains."""
    return tuple(DomainName.parse(item, field_name=field_name) for item in _items(raw))


def parse_credentials(
    raw: str,
    *,
    stored: tuple[Credential, ...],
    hash_password: Callable[[str, str], str],
) -> tuple[Credential, ...]:
    """`user:password` pairs separated by commas or newlines, passwords hashed
    (`hash_password(user, password)`).

    A masked pair (`user:********`, as responses show them) keeps the stored password.
    Every pair is checked (at most MAX_CREDENTIALS, user and password lengths) before any
    password is hashed: a hash costs ~0.1 s, so an oversized list must cost nothing.
    """
    items = _items(raw, _SEPARATORS)
    if len(items) > MAX_CREDENTIALS:
        raise InvalidField("smtp_credentials", f"at most {MAX_CREDENTIALS} user:password pairs")
    pairs: dict[str, str] = {}
    for item in items:
        user, sep, password = item.partition(":")
        user = user.strip()
        if not sep or not user or not password:
            raise InvalidField("smtp_credentials", "each entry must be user:password")
        if (
            len(user) > MAX_CREDENTIAL_USER
            or not user.isprintable()
            or any(ch.isspace() for ch in user)
        ):
            raise InvalidField(
                "smtp_credentials",
                f"a user name is {MAX_CREDENTIAL_USER} printable characters at most, no spaces",
            )
        if len(password) > MAX_CREDENTIAL_PASSWORD:
            raise InvalidField(
                "smtp_credentials",
                f"the password of {user!r} is over {MAX_CREDENTIAL_PASSWORD} characters",
            )
        if user in pairs:
            raise InvalidField("smtp_credentials", f"the user {user!r} is listed twice")
        if password == MASK and user not in {c.user for c in stored}:
            raise InvalidField("smtp_credentials", f"no stored password for user {user!r}")
        pairs[user] = password
    kept = {c.user: c for c in stored}
    return tuple(
        kept[user] if password == MASK else Credential(user, hash_password(user, password))
        for user, password in pairs.items()
    )


def format_credentials(credentials: tuple[Credential, ...]) -> str:
    return ",".join(f"{c.user}:{MASK}" for c in credentials)


def check_name(raw: str) -> str:
    name = raw.strip()
    if not 1 <= len(name) <= 100:
        raise InvalidField("name", "must be 1 to 100 characters")
    return name


@frozen(kw_only=True)
class SmtpPolicy:
    id: UUID
    account_id: UUID
    name: str
    require_smtp_auth: bool = False
    smtp_credentials: tuple[Credential, ...] = ()
    allowed_source_ips: tuple[Network, ...] = ()
    require_spf: bool = False
    allowed_spf_domains: tuple[DomainName, ...] = ()
    require_dkim: bool = False
    allowed_dkim_domains: tuple[DomainName, ...] = ()
    require_dmarc: bool = False
    created_at: datetime
    updated_at: datetime

    @classmethod
    def new(cls, *, account_id: UUID, name: str, now: datetime) -> SmtpPolicy:
        return cls(id=uuid4(), account_id=account_id, name=name, created_at=now, updated_at=now)

    def checked(self) -> SmtpPolicy:
        """Self, if its fields agree with each other."""
        if self.require_smtp_auth and not self.smtp_credentials:
            raise InvalidField("smtp_credentials", "require_smtp_auth needs at least one user")
        return self

    def changed(self, now: datetime, **changes: object) -> SmtpPolicy:
        return evolve(self, updated_at=now, **changes).checked()  # type: ignore[arg-type]


def wants_spf(policy: SmtpPolicy | None) -> bool:
    return policy is not None and (policy.require_spf or bool(policy.allowed_spf_domains))


def wants_dkim(policy: SmtpPolicy | None) -> bool:
    return policy is not None and (policy.require_dkim or bool(policy.allowed_dkim_domains))


def wants_dmarc(policy: SmtpPolicy | None) -> bool:
    return policy is not None and policy.require_dmarc


def _within(domain: str, allowed: tuple[DomainName, ...]) -> bool:
    try:
        name = DomainName.parse(domain)
    except ValueError:
        return False
    return any(name.within(parent) for parent in allowed)


def refusal_at_rcpt(
    policy: SmtpPolicy | None,
    *,
    remote_ip: str,
    authenticated_policies: Collection[UUID],
    spf: Callable[[], SpfOutcome],
) -> str | None:
    """Why the policy refuses the sender at RCPT (source IP, SMTP AUTH, SPF), or None.

    `spf` is called only when the policy needs it.
    """
    if policy is None:
        return None
    if policy.allowed_source_ips:
        try:
            address = ipaddress.ip_address(remote_ip)
        except ValueError:
            return f"source address {remote_ip} is not allowed"
        if address.version == 6 and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if not any(address in network for network in policy.allowed_source_ips):
            return f"source address {remote_ip} is not allowed"
    if policy.require_smtp_auth and policy.id not in authenticated_policies:
        return "SMTP AUTH with this address's credentials is required"
    if wants_spf(policy):
        outcome = spf()
        if outcome.result != "pass":
            return f"SPF {outcome.result} for {outcome.domain or 'the sender'}"
        if policy.allowed_spf_domains and not _within(outcome.domain, policy.allowed_spf_domains):
            return f"SPF domain {outcome.domain} is not allowed"
    return None


def refusal_after_data(policy: SmtpPolicy | None, auth: AuthResults) -> str | None:
    """Why the policy refuses the message after DATA (DKIM, DMARC), or None."""
    if policy is None:
        return None
    if wants_dmarc(policy) and (auth.dmarc is None or auth.dmarc.result != "pass"):
        result, domain = (auth.dmarc.result, auth.dmarc.domain) if auth.dmarc else ("none", "")
        return f"DMARC {result} for {domain or 'a message without a From domain'}"
    if not wants_dkim(policy):
        return None
    dkim = auth.dkim
    passing = [r.domain for r in dkim if r.result == "pass"]
    if not passing:
        return "no valid DKIM signature" if dkim else "the message is not DKIM-signed"
    if policy.allowed_dkim_domains and not any(
        _within(d, policy.allowed_dkim_domains) for d in passing
    ):
        return f"no valid DKIM signature from an allowed domain (signed by {', '.join(passing)})"
    return None
