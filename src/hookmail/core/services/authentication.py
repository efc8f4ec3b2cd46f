"""SPF, DKIM and DMARC after DATA: what the recipients' policies need, or all of them.

HOOKMAIL_AUTH_CHECKS=`policy` checks what some accepted recipient's policy needs;
`always` checks everything, so every payload carries SPF, DKIM and DMARC results. DMARC
needs SPF and DKIM, so asking for it brings both.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from enum import StrEnum

from attrs import frozen

from hookmail.core import dmarc
from hookmail.core.mail import AuthResults, DkimResult, DmarcOutcome, SpfOutcome
from hookmail.core.ports import DkimVerifier, DmarcEvaluator
from hookmail.core.smtp_policies import SmtpPolicy, wants_dkim, wants_dmarc


class AuthChecks(StrEnum):
    POLICY = "policy"
    ALWAYS = "always"


@frozen
class Needs:
    spf: bool
    dkim: bool
    dmarc: bool

    @property
    def any(self) -> bool:
        return self.spf or self.dkim or self.dmarc


def needs(policies: Iterable[SmtpPolicy | None], mode: AuthChecks) -> Needs:
    """What to check after DATA for recipients with these policies."""
    if mode is AuthChecks.ALWAYS:
        return Needs(spf=True, dkim=True, dmarc=True)
    found = list(policies)
    want_dmarc = any(wants_dmarc(p) for p in found)
    return Needs(
        spf=want_dmarc,  # SPF wanted by a policy was checked at RCPT already
        dkim=want_dmarc or any(wants_dkim(p) for p in found),
        dmarc=want_dmarc,
    )


class _Unavailable:
    """No DMARC evaluator given (a harness without one): temperror, so a policy that
    requires DMARC refuses rather than passes."""

    def evaluate(
        self, *, from_domain: str, spf: SpfOutcome | None, dkim: tuple[DkimResult, ...]
    ) -> DmarcOutcome:
        return DmarcOutcome("temperror", from_domain, None)


UNAVAILABLE = _Unavailable()


def check(
    wanted: Needs,
    dkim_verifier: DkimVerifier,
    dmarc_evaluator: DmarcEvaluator,
    *,
    raw: bytes,
    spf: Callable[[], SpfOutcome],
    spf_known: SpfOutcome | None,
) -> AuthResults:
    """Run the wanted checks (DNS: call it off the event loop). `spf` runs SPF once (it
    may have run at RCPT; `spf_known` is its outcome then)."""
    spf_outcome = spf() if wanted.spf else spf_known
    dkim: tuple[DkimResult, ...] = dkim_verifier.verify(raw) if wanted.dkim else ()
    outcome: DmarcOutcome | None = None
    if wanted.dmarc:
        domain = dmarc.from_domain(raw)
        if domain is None:
            outcome = DmarcOutcome("permerror", "", None)
        else:
            outcome = dmarc_evaluator.evaluate(from_domain=domain, spf=spf_outcome, dkim=dkim)
    return AuthResults(spf=spf_outcome, dkim=dkim, dmarc=outcome)
