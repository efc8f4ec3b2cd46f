"""SPF (pyspf) and DKIM (dkimpy), both asking the DNS that HOOKMAIL_DNS_NAMESERVERS names."""

from __future__ import annotations

import logging
import re
from typing import Any

import dkim
import dns.exception
import dns.resolver
import spf

from hookmail.adapters.dns import DnspythonResolver
from hookmail.core.mail import DkimResult, SpfOutcome, head_of
from hookmail.core.ports import DnsFailure, TxtResolver

log = logging.getLogger("hookmail.mailauth")

_SIGNATURE = re.compile(rb"^dkim-signature:", re.IGNORECASE | re.MULTILINE)
_D_TAG = re.compile(rb"(?:^|;)\s*d\s*=\s*([^;\s]+)", re.IGNORECASE)


class PyspfChecker:
    """pyspf looks DNS up through one module-level function; we point it at our resolver.
    The whole process then asks the configured servers, which is what the setting means."""

    def __init__(self, resolver: DnspythonResolver, *, timeout: float = 10.0) -> None:
        self._resolver = resolver.resolver
        self._timeout = timeout
        spf.DNSLookup = self._lookup

    def _lookup(self, name: str, qtype: str, *_: Any, **__: Any) -> list[tuple[Any, Any]]:
        found: list[tuple[Any, Any]] = []
        try:
            answers = self._resolver.resolve(name, qtype, lifetime=self._timeout, search=False)
        except (dns.resolver.NoAnswer, dns.resolver.NXDOMAIN):
            return found
        except dns.exception.DNSException as exc:
            raise spf.TempError(f"DNS {exc}") from None
        for rdata in answers:
            if qtype in ("A", "AAAA"):
                found.append(((name, qtype), rdata.address))
            elif qtype == "MX":
                found.append(((name, qtype), (rdata.preference, rdata.exchange)))
            elif qtype == "PTR":
                found.append(((name, qtype), rdata.target.to_text(True)))
            elif qtype in ("TXT", "SPF"):
                found.append(((name, qtype), rdata.strings))
        return found

    def check(self, *, ip: str, mail_from: str, helo: str) -> SpfOutcome:
        domain = mail_from.rpartition("@")[2] if mail_from else helo
        try:
            result, explanation = spf.check2(i=ip, s=mail_from, h=helo, timeout=self._timeout)
        except Exception as exc:  # pyspf raises its own family and more; never fail a session
            log.warning("SPF check of %s failed: %s", domain, exc)
            return SpfOutcome("temperror", domain.lower(), str(exc))
        return SpfOutcome(str(result), domain.lower(), str(explanation))


class DkimpyVerifier:
    """Verifies every DKIM-Signature; keys come from TXT records through the DNS port."""

    def __init__(self, resolver: TxtResolver) -> None:
        self._resolver = resolver

    def _txt(self, name: bytes, timeout: int = 5) -> bytes | None:
        try:
            records = self._resolver.txt(name.decode("ascii", "replace").rstrip("."))
        except DnsFailure:
            return None
        return records[0].encode("utf-8") if records else None

    def verify(self, raw: bytes) -> tuple[DkimResult, ...]:
        head = head_of(raw)
        count = len(_SIGNATURE.findall(head))
        results = []
        for index in range(count):
            checker = dkim.DKIM(raw, logger=log)
            try:
                ok = bool(checker.verify(idx=index, dnsfunc=self._txt))
            except Exception as exc:  # dkimpy raises many kinds on malformed input
                log.info("DKIM signature %d unverifiable: %s", index, exc)
                ok = False
            domain = checker.domain.decode("ascii", "replace") if checker.domain else ""
            if not domain:
                domain = self._domain_of(head, index)
            results.append(DkimResult(domain.lower(), "pass" if ok else "fail"))
        return tuple(results)

    @staticmethod
    def _domain_of(head: bytes, index: int) -> str:
        """The d= tag of the index-th signature, read by hand when dkimpy gave up early."""
        unfolded = re.sub(rb"\r\n[ \t]+", b" ", head)
        signatures = [line for line in unfolded.split(b"\r\n") if _SIGNATURE.match(line)]
        if index < len(signatures):
            match = _D_TAG.search(signatures[index].split(b":", 1)[1])
            if match:
                return match.group(1).decode("ascii", "replace")
        return ""
