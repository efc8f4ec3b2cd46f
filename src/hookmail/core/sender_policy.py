"""Does a webhook's SMTP security policy admit this sender? Pure decisions, reasons as text."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Collection
from uuid import UUID

from hookmail.core.domains import DomainName
from hookmail.core.mail import AuthResults, SpfOutcome
from hookmail.core.smtp_policies import SmtpPolicy


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
