"""DMARC (RFC 7489) with the `dmarc` library, the bundled Public Suffix List, and our DNS.

`dmarc` parses the record (tags, defaults, `p`/`sp`) and decides alignment and the result;
we only discover the record (RFC 7489 §6.6.3) through the configured name servers, since the
library's own lookup asks the system resolver. The organisational domain comes from the list
that `publicsuffixlist` ships (read once at start; never fetched at run time).
"""

from __future__ import annotations

import logging

import dmarc
from publicsuffixlist import PublicSuffixList

from hookmail.core.mail import DkimResult, DmarcOutcome, SpfOutcome
from hookmail.core.ports import DnsFailure, TxtResolver

log = logging.getLogger("hookmail.dmarc")


class _OrganisationalDomains:
    """What `dmarc.DMARC` asks of a public suffix list: the organisational domain."""

    def __init__(self) -> None:
        self._list = PublicSuffixList()

    def get_public_suffix(self, domain: str) -> str:
        return str(self._list.privatesuffix(domain.lower()) or domain.lower())

    def organisational(self, domain: str) -> str | None:
        """The registered domain under its public suffix; None for a public suffix itself."""
        found = self._list.privatesuffix(domain.lower())
        return str(found) if found else None


class _NoRecord(Exception):
    pass


class DmarcLibEvaluator:
    def __init__(self, resolver: TxtResolver) -> None:
        self._resolver = resolver
        self._domains = _OrganisationalDomains()
        self._dmarc = dmarc.DMARC(publicsuffix=self._domains)

    def _record(self, domain: str) -> str:
        """The one DMARC record at `_dmarc.<domain>`. Raises _NoRecord (none, or several:
        §6.6.3 discards the lot) or DnsFailure."""
        found = [
            r for r in self._resolver.txt(f"_dmarc.{domain}") if r.strip().startswith("v=DMARC1")
        ]
        if len(found) != 1:
            raise _NoRecord
        return found[0].strip()

    def evaluate(
        self, *, from_domain: str, spf: SpfOutcome | None, dkim: tuple[DkimResult, ...]
    ) -> DmarcOutcome:
        domain = from_domain.lower().rstrip(".")
        organisational = self._domains.organisational(domain)
        try:
            try:
                record, found_at = self._record(domain), None
            except _NoRecord:
                if organisational is None or organisational == domain:
                    return DmarcOutcome("none", domain, None)
                record, found_at = self._record(organisational), organisational
        except _NoRecord:
            return DmarcOutcome("none", domain, None)
        except DnsFailure as exc:
            log.info("DMARC record of %s unavailable: %s", domain, exc)
            return DmarcOutcome("temperror", domain, None)
        try:
            policy = self._dmarc.parse_record(
                record, domain=domain, org_domain=found_at, strict=False
            )
        except dmarc.Error as exc:
            log.info("DMARC record of %s is invalid: %s", domain, exc)
            return DmarcOutcome("permerror", domain, None)
        result = self._dmarc.get_result(
            policy, auth_results=dmarc.AuthResults(spf=self._spf(spf), dkim=self._dkim(dkim))
        )
        applied = policy.sp if found_at and policy.sp.value else policy.p
        return DmarcOutcome(result.result.value, domain, applied.value)

    def _spf(self, spf: SpfOutcome | None) -> dmarc.SPFAuthResult | None:
        if spf is None or spf.result != "pass" or not self._identifier(spf.domain):
            return None
        return dmarc.SPFAuthResult(spf.domain.lower(), dmarc.SPFResult.PASS)

    def _dkim(self, dkim: tuple[DkimResult, ...]) -> list[dmarc.DKIMAuthResult]:
        return [
            dmarc.DKIMAuthResult(d.domain.lower(), dmarc.DKIMResult.PASS)
            for d in dkim
            if d.result == "pass" and self._identifier(d.domain)
        ]

    def _identifier(self, domain: str) -> bool:
        """A domain that can align at all: not empty, not a public suffix itself."""
        return bool(domain) and self._domains.organisational(domain) is not None
