"""Domain use cases: claim, list, get, delete, verify by DNS TXT; public domains."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from uuid import UUID

from attrs import evolve

from hookmail.core.domains import Domain, DomainName
from hookmail.core.errors import DnsVerificationFailed, DomainNotFound, DomainTaken
from hookmail.core.paging import Page
from hookmail.core.ports import Clock, DnsFailure, TxtResolver, UnitOfWork
from hookmail.core.quotas import Quotas, ensure_room


def sync_public_domains(uow: UnitOfWork, clock: Clock, *, names: Iterable[str]) -> None:
    """Make the store's public domains exactly `names` (HOOKMAIL_PUBLIC_DOMAINS).

    A dropped public domain is hidden and unverified, not deleted, so its webhooks come back
    if it is listed again. A name some account has verified stays that account's.
    """
    wanted = {DomainName.parse(n, field_name="HOOKMAIL_PUBLIC_DOMAINS") for n in names}
    now = clock.now()
    try:
        with uow:
            for domain in uow.domains.public():
                listed = domain.name in wanted
                wanted.discard(domain.name)
                if listed and not domain.verified and not _verified(uow, domain.name):
                    uow.domains.save(domain.verify(now))
                elif not listed and domain.verified:
                    uow.domains.save(_hidden(domain, now))
            for name in wanted:
                if not _verified(uow, name):
                    uow.domains.save(Domain.public(name=name, now=now))
            uow.commit()
    except DomainTaken:
        pass  # another process starting at the same moment synced first


def _verified(uow: UnitOfWork, name: DomainName) -> bool:
    return any(d.verified for d in uow.domains.named(name))


def _hidden(domain: Domain, now: datetime) -> Domain:
    return evolve(domain, verified=False, updated_at=now)


def claim_domain(
    uow: UnitOfWork, clock: Clock, quotas: Quotas, *, account_id: UUID, name: str
) -> Domain:
    """Claim a domain; it stays unverified until its TXT record is seen. `409
    quota_exceeded` past the account's quota (claims count, verified or not)."""
    domain_name = DomainName.parse(name)
    with uow:
        ensure_room(uow, account_id, "domains", uow.domains.count_of_account, quotas.domains)
        for other in uow.domains.named(domain_name):
            if other.verified or other.account_id == account_id:
                raise DomainTaken(domain_name.value)
        domain = Domain.claim(account_id=account_id, name=domain_name, now=clock.now())
        uow.domains.save(domain)
        uow.commit()
    return domain


def list_domains(uow: UnitOfWork, *, account_id: UUID, page: Page | None = None) -> list[Domain]:
    """The account's domains and the public ones, oldest first; one page, or all without
    `page` (bounded by the quota and the operator's public list)."""
    with uow.reading():
        found = [d for d in uow.domains.visible_to(account_id) if d.verified or not d.is_public]
    return page.of(found) if page else found


def _visible(uow: UnitOfWork, account_id: UUID, domain_id: UUID) -> Domain:
    domain = uow.domains.get(domain_id)
    if (
        domain is None
        or not domain.visible_to(account_id)
        or (domain.is_public and not domain.verified)
    ):
        raise DomainNotFound
    return domain


def get_domain(uow: UnitOfWork, *, account_id: UUID, domain_id: UUID) -> Domain:
    with uow.reading():
        return _visible(uow, account_id, domain_id)


def _own(uow: UnitOfWork, account_id: UUID, domain_id: UUID) -> Domain:
    domain = uow.domains.get(domain_id)
    if domain is None or domain.account_id != account_id:
        raise DomainNotFound  # another account's, or public: not yours to change
    return domain


def delete_domain(uow: UnitOfWork, *, account_id: UUID, domain_id: UUID) -> None:
    """Delete an own domain and the webhooks on it; mail for it is refused from then on."""
    with uow:
        _own(uow, account_id, domain_id)
        uow.domains.delete(domain_id)
        uow.commit()


def verify_domain(
    uow: UnitOfWork, clock: Clock, dns: TxtResolver, *, account_id: UUID, domain_id: UUID
) -> Domain:
    """Look for `hookmail-verify=<token>` at `_hookmail.<domain>`; the first verifier wins."""
    with uow:
        domain = _own(uow, account_id, domain_id)
        if domain.verified:
            return domain
        if _verified(uow, domain.name):
            raise DomainTaken(domain.name.value)
    try:
        records = dns.txt(domain.txt_name)
    except DnsFailure as exc:
        raise DnsVerificationFailed(
            f"the DNS lookup of TXT {domain.txt_name} failed ({exc}); try again later"
        ) from None
    if domain.txt_value not in records:
        if not records:
            reason = f"no TXT record found at {domain.txt_name}"
        else:
            reason = f"the TXT records at {domain.txt_name} do not include the expected value"
        raise DnsVerificationFailed(f'{reason}; publish TXT {domain.txt_name} "{domain.txt_value}"')
    with uow:
        domain = _own(uow, account_id, domain_id)
        if _verified(uow, domain.name):
            raise DomainTaken(domain.name.value)
        verified = domain.verify(clock.now())
        uow.domains.save(verified)  # a racing verifier loses here, on the unique index
        uow.commit()
    return verified
