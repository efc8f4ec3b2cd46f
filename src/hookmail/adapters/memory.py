"""In-memory fakes of every port, for unit tests and other apps' test harnesses.

Each is small and observable; each passes the same contract suite as the real adapter.
"""

from __future__ import annotations

import copy
import logging
import re
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Self
from uuid import UUID

from attrs import define, evolve, field

from hookmail.core.accounts import Account
from hookmail.core.deliveries import DeliveryJob, DeliveryLog, DeliveryStatus, JobStatus
from hookmail.core.domains import Domain, DomainName
from hookmail.core.errors import AddressTaken, DomainTaken, EmailTaken, InvalidField, InvalidToken
from hookmail.core.mail import DkimResult, DmarcOutcome, InboundMessage, SpfOutcome, head_of
from hookmail.core.messages import (
    HEAD_BYTES,
    MessageStatus,
    MessageSummary,
    status_of,
    subject_of,
)
from hookmail.core.ports import AccessClaims, DnsFailure, HttpOutcome, Route
from hookmail.core.smtp_policies import Credential, SmtpPolicy, StoredLogin
from hookmail.core.tokens import IssuedToken, TokenKind
from hookmail.core.web_sessions import WebSession
from hookmail.core.webhooks import FAILING, Webhook

__all__ = [  # the repositories are reached through InMemoryUnitOfWork
    "FakeAccessTokens",
    "FixedClock",
    "InMemoryUnitOfWork",
    "InlineBackground",
    "PermissiveEmailSyntax",
    "PlainPasswordHasher",
    "Posted",
    "RecordingMailer",
    "RecordingTransport",
    "SentMail",
    "StubDkim",
    "StubResolver",
    "StubSpf",
]


@define
class FixedClock:
    current: datetime = field(factory=lambda: datetime(2026, 4, 2, 12, 0, tzinfo=UTC))

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


class PlainPasswordHasher:
    """Not a hash at all: fast and transparent, for tests only."""

    def hash(self, secret: str) -> str:
        return f"plain${secret}"

    def verify(self, secret: str, hashed: str) -> bool:
        return hashed == f"plain${secret}"

    def burn(self, secret: str) -> None:
        return None


class PlainCredentialHasher:
    """Not a hash either: `keyed$<user>$<password>`, deterministic like the real one. It
    also verifies PlainPasswordHasher's `plain$<password>`, the stand-in for credentials
    stored before keyed salts."""

    def hash(self, user: str, password: str) -> str:
        return f"{self.keyed_prefix(user)}{password}"

    def keyed_prefix(self, user: str) -> str:
        return f"keyed${user}$"

    def verify(self, user: str, password: str, hashed: str) -> bool:
        return hashed in {f"{self.keyed_prefix(user)}{password}", f"plain${password}"}


class PermissiveEmailSyntax:
    """`something@domain.tld`, lower-cased; enough for tests."""

    _SHAPE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

    def normalize(self, raw: str) -> str:
        if not self._SHAPE.match(raw.strip()):
            raise InvalidField("email", "is not a valid email address")
        return raw.strip().lower()


@define
class FakeAccessTokens:
    """Readable tokens `fake.<account>.<version>.<expiry-unix>`; unsigned, for tests only."""

    lifetime_seconds: int = 900

    def issue(self, *, account_id: UUID, token_version: int, now: datetime) -> str:
        expires = int(now.timestamp()) + self.lifetime_seconds
        return f"fake.{account_id}.{token_version}.{expires}"

    def verify(self, token: str, *, now: datetime) -> AccessClaims:
        try:
            prefix, account, version, expires = token.split(".")
            claims = AccessClaims(account_id=UUID(account), token_version=int(version))
        except ValueError:
            raise InvalidToken("the access token is malformed") from None
        if prefix != "fake" or now.timestamp() >= int(expires):
            raise InvalidToken("the access token is invalid or expired")
        return claims


@define
class SentMail:
    to: str
    subject: str
    body: str


@define
class RecordingMailer:
    sent: list[SentMail] = field(factory=list)

    def send(self, *, to: str, subject: str, body: str) -> None:
        self.sent.append(SentMail(to=to, subject=subject, body=body))


class InlineBackground:
    """Runs each task at once, on the caller's thread: what a test reads next is done.
    A failure is logged, as the port promises, not raised."""

    def submit(self, task: Callable[[], None]) -> None:
        try:
            task()
        except Exception:
            logging.getLogger("hookmail.background").exception("a background task failed")


@define
class StubResolver:
    """TXT answers from a dict; names listed in `failing` raise DnsFailure."""

    records: dict[str, list[str]] = field(factory=dict)
    failing: set[str] = field(factory=set)

    def txt(self, name: str) -> list[str]:
        if name.lower() in self.failing:
            raise DnsFailure("SERVFAIL")
        return list(self.records.get(name.lower(), []))


@define
class Posted:
    url: str
    headers: dict[str, str]
    body: bytes


@define
class RecordingTransport:
    """Records every POST and answers from `plan` (then `default`), like a target would."""

    posted: list[Posted] = field(factory=list)
    plan: list[HttpOutcome] = field(factory=list)
    default: HttpOutcome = field(factory=lambda: HttpOutcome(200))

    def post(
        self, url: str, *, headers: dict[str, str], body: bytes, timeout: float
    ) -> HttpOutcome:
        self.posted.append(Posted(url, dict(headers), body))
        return self.plan.pop(0) if self.plan else self.default


@define
class StubSpf:
    """SPF results by domain (`none` for any other)."""

    results: dict[str, str] = field(factory=dict)

    def check(self, *, ip: str, mail_from: str, helo: str) -> SpfOutcome:
        domain = (mail_from.rpartition("@")[2] if mail_from else helo).lower()
        return SpfOutcome(self.results.get(domain, "none"), domain)


@define
class StubDkim:
    """Passes a signature whose d= domain is in `valid`; fails any other signature."""

    valid: set[str] = field(factory=set)

    def verify(self, raw: bytes) -> tuple[DkimResult, ...]:
        head = head_of(raw).decode("utf-8", "replace")
        found = re.findall(r"(?im)^dkim-signature:.*?\bd=([^;\s]+)", head)
        return tuple(
            DkimResult(d.lower(), "pass" if d.lower() in self.valid else "fail") for d in found
        )


@define
class StubDmarc:
    """`policies` maps a From domain to the policy it publishes (`none`, `quarantine`,
    `reject`); no entry is no record, a domain in `failing` is a DNS failure. Alignment is
    relaxed, read as "one domain is the other or under it" (no public suffix list)."""

    policies: dict[str, str] = field(factory=dict)
    failing: set[str] = field(factory=set)

    def evaluate(
        self, *, from_domain: str, spf: SpfOutcome | None, dkim: tuple[DkimResult, ...]
    ) -> DmarcOutcome:
        domain = from_domain.lower()
        if domain in self.failing:
            return DmarcOutcome("temperror", domain, None)
        policy = self.policies.get(domain)
        if policy is None:
            return DmarcOutcome("none", domain, None)

        def aligned(other: str) -> bool:
            other = other.lower()
            return other == domain or other.endswith("." + domain) or domain.endswith("." + other)

        passing = [d.domain for d in dkim if d.result == "pass"]
        if spf is not None and spf.result == "pass":
            passing.append(spf.domain)
        return DmarcOutcome("pass" if any(map(aligned, passing)) else "fail", domain, policy)


@define
class _State:
    accounts: dict[UUID, Account] = field(factory=dict)
    tokens: dict[UUID, IssuedToken] = field(factory=dict)
    web_sessions: dict[UUID, WebSession] = field(factory=dict)
    attempts: list[tuple[str, datetime]] = field(factory=list)
    config: dict[str, str] = field(factory=dict)
    domains: dict[UUID, Domain] = field(factory=dict)
    policies: dict[UUID, SmtpPolicy] = field(factory=dict)
    webhooks: dict[UUID, Webhook] = field(factory=dict)
    logs: dict[UUID, DeliveryLog] = field(factory=dict)
    messages: dict[UUID, InboundMessage] = field(factory=dict)
    jobs: dict[UUID, DeliveryJob] = field(factory=dict)

    def drop_webhooks(self, doomed: set[UUID]) -> None:
        for webhook_id in doomed:
            self.webhooks.pop(webhook_id, None)
        self.logs = {k: v for k, v in self.logs.items() if v.webhook_id not in doomed}
        self.jobs = {k: v for k, v in self.jobs.items() if v.webhook_id not in doomed}
        needed = {j.message_id for j in self.jobs.values()}
        self.messages = {k: v for k, v in self.messages.items() if k in needed}


class InMemoryAccounts:
    def __init__(self, state: _State) -> None:
        self._state = state

    def get(self, account_id: UUID) -> Account | None:
        return self._state.accounts.get(account_id)

    def by_email(self, email: str) -> Account | None:
        return next((a for a in self._state.accounts.values() if a.email == email), None)

    def add(self, account: Account) -> None:
        if self.by_email(account.email) is not None:
            raise EmailTaken
        self._state.accounts[account.id] = account

    def save(self, account: Account) -> None:
        self._state.accounts[account.id] = account

    def lock(self, account_id: UUID) -> None:
        return None  # the fake's commits publish whole copies; nothing to hold

    def delete(self, account_id: UUID) -> None:
        state = self._state
        state.accounts.pop(account_id, None)
        state.tokens = {k: t for k, t in state.tokens.items() if t.account_id != account_id}
        state.web_sessions = {
            k: s for k, s in state.web_sessions.items() if s.account_id != account_id
        }
        state.drop_webhooks({w.id for w in state.webhooks.values() if w.account_id == account_id})
        state.domains = {k: d for k, d in state.domains.items() if d.account_id != account_id}
        state.policies = {k: p for k, p in state.policies.items() if p.account_id != account_id}


class InMemoryDomains:
    def __init__(self, state: _State) -> None:
        self._state = state

    def get(self, domain_id: UUID) -> Domain | None:
        return self._state.domains.get(domain_id)

    def named(self, name: DomainName) -> list[Domain]:
        return [d for d in self._state.domains.values() if d.name == name]

    def visible_to(self, account_id: UUID) -> list[Domain]:
        found = [d for d in self._state.domains.values() if d.visible_to(account_id)]
        return sorted(found, key=lambda d: (d.created_at, d.name.value))

    def public(self) -> list[Domain]:
        return [d for d in self._state.domains.values() if d.is_public]

    def count_of_account(self, account_id: UUID) -> int:
        return sum(1 for d in self._state.domains.values() if d.account_id == account_id)

    def save(self, domain: Domain) -> None:
        for other in self.named(domain.name):
            if other.id != domain.id and (
                (other.verified and domain.verified) or other.account_id == domain.account_id
            ):
                raise DomainTaken(domain.name.value)
        self._state.domains[domain.id] = domain

    def delete(self, domain_id: UUID) -> None:
        self._state.domains.pop(domain_id, None)
        self._state.drop_webhooks(
            {w.id for w in self._state.webhooks.values() if w.domain_id == domain_id}
        )


class InMemoryPolicies:
    def __init__(self, state: _State) -> None:
        self._state = state

    def get(self, policy_id: UUID) -> SmtpPolicy | None:
        return self._state.policies.get(policy_id)

    def of_account(self, account_id: UUID) -> list[SmtpPolicy]:
        found = [p for p in self._state.policies.values() if p.account_id == account_id]
        return sorted(found, key=lambda p: (p.created_at, str(p.id)))

    def save(self, policy: SmtpPolicy) -> None:
        self._state.policies[policy.id] = policy

    def count_of_account(self, account_id: UUID) -> int:
        return sum(1 for p in self._state.policies.values() if p.account_id == account_id)

    def logins(self, user: str, *, digest: str, keyed_prefix: str) -> list[StoredLogin]:
        return [
            StoredLogin(p.id, c.user, c.password_hash)
            for p in self._state.policies.values()
            for c in p.smtp_credentials
            if c.user == user
            and (c.password_hash == digest or not c.password_hash.startswith(keyed_prefix))
        ]

    def rehash(self, policy_id: UUID, user: str, *, old: str, new: str) -> None:
        policy = self._state.policies.get(policy_id)
        if policy is None:
            return
        credentials = tuple(
            Credential(c.user, new) if (c.user, c.password_hash) == (user, old) else c
            for c in policy.smtp_credentials
        )
        self._state.policies[policy_id] = evolve(policy, smtp_credentials=credentials)

    def delete(self, policy_id: UUID) -> None:
        self._state.policies.pop(policy_id, None)
        for webhook in list(self._state.webhooks.values()):
            if webhook.smtp_security_policy_id == policy_id:
                self._state.webhooks[webhook.id] = evolve(webhook, smtp_security_policy_id=None)


class InMemoryWebhooks:
    def __init__(self, state: _State) -> None:
        self._state = state

    def get(self, webhook_id: UUID) -> Webhook | None:
        return self._state.webhooks.get(webhook_id)

    def get_many(self, webhook_ids: set[UUID]) -> dict[UUID, tuple[Webhook, str]]:
        found = {}
        for webhook_id in webhook_ids:
            webhook = self._state.webhooks.get(webhook_id)
            if webhook is not None:
                account = self._state.accounts.get(webhook.account_id)
                found[webhook_id] = (webhook, account.timezone if account else "UTC")
        return found

    def of_account(self, account_id: UUID) -> list[Webhook]:
        found = [w for w in self._state.webhooks.values() if w.account_id == account_id]
        return sorted(found, key=lambda w: (w.created_at, str(w.id)))

    def _by_addresses(self, addresses: list[str]) -> dict[str, Webhook]:
        wanted = set(addresses)
        return {
            str(w.address): w for w in self._state.webhooks.values() if str(w.address) in wanted
        }

    def lock(self, webhook_id: UUID) -> None:
        return None  # one unit of work at a time publishes; nothing to hold

    def routes(self, addresses: list[str]) -> dict[str, Route]:
        found = {}
        for address, webhook in self._by_addresses(addresses).items():
            domain = self._state.domains.get(webhook.domain_id)
            if domain is None:
                continue
            policy_id = webhook.smtp_security_policy_id
            policy = self._state.policies.get(policy_id) if policy_id else None
            found[address] = Route(webhook, domain, policy)
        return found

    def has_tagged(self, domain: str) -> bool:
        return any(
            w.address.domain.value == domain and "+" in w.address.local
            for w in self._state.webhooks.values()
        )

    def count_of_account(self, account_id: UUID) -> int:
        return sum(1 for w in self._state.webhooks.values() if w.account_id == account_id)

    def using_policy(self, policy_id: UUID) -> int:
        return sum(
            1 for w in self._state.webhooks.values() if w.smtp_security_policy_id == policy_id
        )

    def save(self, webhook: Webhook) -> None:
        for other in self._state.webhooks.values():
            if other.id != webhook.id and other.address == webhook.address:
                raise AddressTaken(str(webhook.address))
        self._state.webhooks[webhook.id] = webhook

    def delete(self, webhook_id: UUID) -> None:
        self._state.drop_webhooks({webhook_id})

    def mark_failing(self, webhook_id: UUID, since: datetime) -> None:
        found = self._state.webhooks.get(webhook_id)
        if found is not None and found.failing_since is None:
            self._state.webhooks[webhook_id] = evolve(found, failing_since=since)

    def mark_healthy(self, webhook_id: UUID) -> None:
        found = self._state.webhooks.get(webhook_id)
        if found is not None and found.failing_since is not None:
            self._state.webhooks[webhook_id] = evolve(found, failing_since=None)

    def disable_failing(self, webhook_id: UUID, *, failing_before: datetime, now: datetime) -> bool:
        found = self._state.webhooks.get(webhook_id)
        if (
            found is None
            or not found.active
            or found.failing_since is None
            or not found.failing_since < failing_before
        ):
            return False
        self._state.webhooks[webhook_id] = evolve(
            found, active=False, disabled_reason=FAILING, updated_at=now
        )
        return True


class InMemoryDeliveryLogs:
    def __init__(self, state: _State) -> None:
        self._state = state

    def add(self, log: DeliveryLog) -> None:
        self._state.logs[log.id] = log

    def add_many(self, logs: list[DeliveryLog]) -> None:
        for log in logs:
            self.add(log)

    def get(self, webhook_id: UUID, log_id: UUID) -> DeliveryLog | None:
        log = self._state.logs.get(log_id)
        return log if log is not None and log.webhook_id == webhook_id else None

    def of_webhook(self, webhook_id: UUID, *, offset: int, limit: int) -> list[DeliveryLog]:
        found = [g for g in self._state.logs.values() if g.webhook_id == webhook_id]
        found.sort(key=lambda g: (g.attempted_at, str(g.id)), reverse=True)
        return found[offset : offset + limit]

    def attempts_since(self, webhook_id: UUID, since: datetime) -> list[datetime]:
        return sorted(
            g.attempted_at
            for g in self._state.logs.values()
            if g.webhook_id == webhook_id and g.attempted_at > since and g.attempt > 0
        )

    def remove_unlinked(self, attempted_before: datetime, *, limit: int) -> int:
        pending = [j for j in self._state.jobs.values() if j.status is JobStatus.PENDING]

        def owned(log: DeliveryLog) -> bool:
            return any(
                j.webhook_id == log.webhook_id and j.created_at <= log.attempted_at for j in pending
            )

        found = sorted(
            (
                g
                for g in self._state.logs.values()
                if g.job_id is None
                and g.attempted_at < attempted_before
                and (g.status is DeliveryStatus.REFUSED or not owned(g))
            ),
            key=lambda g: g.attempted_at,
        )[:limit]
        for log in found:
            del self._state.logs[log.id]
        return len(found)


class InMemoryMessages:
    def __init__(self, state: _State) -> None:
        self._state = state

    def add(self, message: InboundMessage) -> None:
        self._state.messages[message.id] = message

    def add_many(self, messages: list[InboundMessage]) -> None:
        for message in messages:
            self.add(message)

    def get(self, message_id: UUID) -> InboundMessage | None:
        return self._state.messages.get(message_id)

    def get_many(self, message_ids: set[UUID]) -> dict[UUID, InboundMessage]:
        return {i: m for i, m in self._state.messages.items() if i in message_ids}

    def page_of_account(
        self,
        account_id: UUID,
        *,
        webhook_id: UUID | None,
        status: MessageStatus | None,
        offset: int,
        limit: int,
    ) -> list[UUID]:
        mine: dict[UUID, list[DeliveryJob]] = {}
        for job in self._state.jobs.values():
            if job.account_id == account_id:
                mine.setdefault(job.message_id, []).append(job)
        found = {
            (jobs[0].created_at, message_id)
            for message_id, jobs in mine.items()
            if (webhook_id is None or any(j.webhook_id == webhook_id for j in jobs))
            and (status is None or status_of(tuple(jobs)) is status)
        }
        ordered = sorted(found, reverse=True)
        return [message_id for _, message_id in ordered[offset : offset + limit]]

    def summaries(self, message_ids: set[UUID]) -> dict[UUID, MessageSummary]:
        return {
            m.id: MessageSummary(
                id=m.id,
                received_at=m.received_at,
                mail_from=m.envelope.mail_from,
                envelope_rcpt_to=m.envelope.rcpt_to,
                message_id=m.message_id,
                subject=subject_of(m.raw[:HEAD_BYTES]),
                size=m.size,
            )
            for m in self._state.messages.values()
            if m.id in message_ids
        }

    def remove_expired(self, received_before: datetime, *, limit: int) -> int:
        state = self._state
        pending = {j.message_id for j in state.jobs.values() if j.status is JobStatus.PENDING}
        doomed = sorted(
            (
                m
                for m in state.messages.values()
                if m.received_at < received_before and m.id not in pending
            ),
            key=lambda m: m.received_at,
        )[:limit]
        ids = {m.id for m in doomed}
        jobs = {k for k, j in state.jobs.items() if j.message_id in ids}
        state.logs = {k: g for k, g in state.logs.items() if g.job_id not in jobs}
        state.jobs = {k: j for k, j in state.jobs.items() if k not in jobs}
        state.messages = {k: m for k, m in state.messages.items() if k not in ids}
        return len(doomed)


class InMemoryJobs:
    def __init__(self, state: _State) -> None:
        self._state = state

    def add(self, job: DeliveryJob) -> None:
        self._state.jobs[job.id] = job

    def add_many(self, jobs: list[DeliveryJob]) -> None:
        for job in jobs:
            self.add(job)

    def get(self, job_id: UUID) -> DeliveryJob | None:
        return self._state.jobs.get(job_id)

    def save(self, job: DeliveryJob) -> None:
        self._state.jobs[job.id] = job

    def claim_due(
        self,
        now: datetime,
        *,
        limit: int,
        lease_until: datetime,
        per_webhook: int,
        per_failing_webhook: int | None = None,
        held: Mapping[UUID, int] | None = None,
    ) -> list[DeliveryJob]:
        failing_share = per_webhook if per_failing_webhook is None else per_failing_webhook

        def share(webhook_id: UUID) -> int:
            hook = self._state.webhooks.get(webhook_id)
            return failing_share if hook is not None and hook.failing_since else per_webhook

        busy: dict[UUID, int] = dict(held or {})
        if held is None:
            for job in self._state.jobs.values():
                if self._leased(job, now):
                    busy[job.webhook_id] = busy.get(job.webhook_id, 0) + 1
        due = sorted(
            (
                j
                for j in self._state.jobs.values()
                if j.status == JobStatus.PENDING
                and j.next_attempt_at <= now
                and (j.claimed_until is None or j.claimed_until < now)
                and self._active(j.webhook_id)
            ),
            key=lambda j: j.next_attempt_at,
        )
        claimed: list[DeliveryJob] = []
        for job in due:
            if len(claimed) >= limit:
                break
            if busy.get(job.webhook_id, 0) >= share(job.webhook_id):
                continue
            busy[job.webhook_id] = busy.get(job.webhook_id, 0) + 1
            claimed.append(evolve(job, claimed_until=lease_until))
        for job in claimed:
            self._state.jobs[job.id] = job
        return claimed

    @staticmethod
    def _leased(job: DeliveryJob, now: datetime) -> bool:
        return (
            job.status == JobStatus.PENDING
            and job.claimed_until is not None
            and job.claimed_until >= now
        )

    def _active(self, webhook_id: UUID) -> bool:
        webhook = self._state.webhooks.get(webhook_id)
        return webhook is not None and webhook.active

    def existing(self, job_ids: set[UUID]) -> set[UUID]:
        return {i for i in job_ids if i in self._state.jobs}

    def save_many(self, jobs: list[DeliveryJob]) -> None:
        for job in jobs:
            if job.id in self._state.jobs:
                self._state.jobs[job.id] = job

    def save_attempts(self, jobs: list[DeliveryJob], logs: list[DeliveryLog]) -> None:
        alive = self.existing({job.id for job in jobs})
        self.save_many([job for job in jobs if job.id in alive])
        for log in logs:
            if log.job_id in alive:
                self._state.logs[log.id] = log

    def release(self, job_ids: set[UUID]) -> None:
        for job_id in job_ids:
            job = self._state.jobs.get(job_id)
            if job is not None:
                self._state.jobs[job_id] = evolve(job, claimed_until=None)

    def in_flight(self, webhook_id: UUID, now: datetime) -> list[UUID]:
        return [
            j.id
            for j in self._state.jobs.values()
            if j.webhook_id == webhook_id
            and j.status == JobStatus.PENDING
            and j.claimed_until is not None
            and j.claimed_until > now
        ]

    def pending(self) -> int:
        return sum(1 for j in self._state.jobs.values() if j.status == JobStatus.PENDING)

    def of_messages(self, account_id: UUID, message_ids: set[UUID]) -> list[DeliveryJob]:
        return sorted(
            (
                j
                for j in self._state.jobs.values()
                if j.account_id == account_id and j.message_id in message_ids
            ),
            key=lambda j: (j.created_at, j.id),
        )

    def replayable(
        self,
        webhook_id: UUID,
        *,
        since: datetime,
        until: datetime,
        statuses: frozenset[JobStatus],
        after: tuple[datetime, UUID] | None,
        limit: int,
    ) -> list[DeliveryJob]:
        found = sorted(
            (
                j
                for j in self._state.jobs.values()
                if j.webhook_id == webhook_id
                and since <= j.created_at <= until
                and j.status in statuses
                and (after is None or (j.created_at, j.id) > after)
            ),
            key=lambda j: (j.created_at, j.id),
        )
        return found[:limit]

    def requeue(self, job_ids: list[UUID], *, now: datetime) -> int:
        count = 0
        for job_id in job_ids:
            job = self._state.jobs.get(job_id)
            if job is not None and job.status != JobStatus.PENDING:
                self._state.jobs[job_id] = job.replayed(now)
                count += 1
        return count


class InMemoryTokens:
    def __init__(self, state: _State) -> None:
        self._state = state

    def add(self, token: IssuedToken) -> None:
        self._state.tokens[token.id] = token

    def by_hash(self, kind: TokenKind, token_hash: str) -> IssuedToken | None:
        return next(
            (
                t
                for t in self._state.tokens.values()
                if t.kind == kind and t.token_hash == token_hash
            ),
            None,
        )

    def save(self, token: IssuedToken) -> None:
        self._state.tokens[token.id] = token

    def revoke_family(self, family_id: UUID, now: datetime) -> None:
        for t in list(self._state.tokens.values()):
            if t.family_id == family_id and t.used_at is None:
                self._state.tokens[t.id] = evolve(t, used_at=now)

    def revoke_all(self, account_id: UUID, kind: TokenKind, now: datetime) -> None:
        for t in list(self._state.tokens.values()):
            if t.account_id == account_id and t.kind == kind and t.used_at is None:
                self._state.tokens[t.id] = evolve(t, used_at=now)

    def prune(self, before: datetime) -> None:
        tokens = self._state.tokens
        self._state.tokens = {k: t for k, t in tokens.items() if t.expires_at >= before}


class InMemoryWebSessions:
    def __init__(self, state: _State) -> None:
        self._state = state

    def add(self, session: WebSession) -> None:
        self._state.web_sessions[session.id] = session

    def by_hash(self, token_hash: str) -> WebSession | None:
        found = self._state.web_sessions.values()
        return next((s for s in found if s.token_hash == token_hash), None)

    def delete(self, session_id: UUID) -> None:
        self._state.web_sessions.pop(session_id, None)

    def prune(self, before: datetime) -> None:
        sessions = self._state.web_sessions
        self._state.web_sessions = {k: s for k, s in sessions.items() if s.expires_at >= before}


class InMemoryActivity:
    def __init__(self, state: _State) -> None:
        self._state = state

    def _webhooks(self, account_id: UUID) -> set[UUID]:
        return {w.id for w in self._state.webhooks.values() if w.account_id == account_id}

    def attempts_by_hour(
        self, account_id: UUID, since: datetime, hours: int
    ) -> dict[tuple[int, DeliveryStatus], int]:
        ours = self._webhooks(account_id)
        counts: dict[tuple[int, DeliveryStatus], int] = {}
        for log in self._state.logs.values():
            if log.webhook_id in ours and log.attempted_at >= since:
                hour = min(hours - 1, int((log.attempted_at - since).total_seconds() // 3600))
                counts[hour, log.status] = counts.get((hour, log.status), 0) + 1
        return counts

    def job_statuses(self, account_id: UUID, since: datetime) -> list[tuple[UUID, JobStatus]]:
        return [
            (j.message_id, j.status)
            for j in self._state.jobs.values()
            if j.account_id == account_id and j.created_at >= since
        ]

    def attempts_of(self, job: DeliveryJob, smtp_message_id: str) -> list[DeliveryLog]:
        found = [
            g
            for g in self._state.logs.values()
            if g.job_id == job.id
            or (
                g.job_id is None
                and g.webhook_id == job.webhook_id
                and g.smtp_message_id == smtp_message_id
                and g.attempted_at >= job.created_at
                and g.status is not DeliveryStatus.REFUSED
            )
        ]
        return sorted(found, key=lambda g: (g.attempted_at, g.attempt))


class InMemoryAttempts:
    def __init__(self, state: _State) -> None:
        self._state = state

    def record(self, key: str, at: datetime) -> None:
        self._state.attempts.append((key, at))

    def since(self, key: str, since: datetime) -> list[datetime]:
        return sorted(at for k, at in self._state.attempts if k == key and at > since)

    def prune(self, before: datetime) -> None:
        self._state.attempts = [(k, at) for k, at in self._state.attempts if at >= before]


class InMemoryConfig:
    def __init__(self, state: _State) -> None:
        self._state = state

    def get(self, name: str) -> str | None:
        return self._state.config.get(name)

    def put_if_absent(self, name: str, value: str) -> None:
        self._state.config.setdefault(name, value)


class InMemoryUnitOfWork:
    """Works on a copy of the committed state; commit() publishes the copy.

    One instance may be shared by threads: each `with` block gets its own working copy,
    and blocks that may write take turns (see __enter__).
    """

    def __init__(self) -> None:
        self.committed = _State()
        self._lock = threading.RLock()
        self._local = threading.local()

    def _work(self) -> _State:
        work: _State | None = getattr(self._local, "work", None)
        if work is None:
            raise RuntimeError("use the unit of work inside a `with` block")
        return work

    @property
    def accounts(self) -> InMemoryAccounts:
        return InMemoryAccounts(self._work())

    @property
    def tokens(self) -> InMemoryTokens:
        return InMemoryTokens(self._work())

    @property
    def web_sessions(self) -> InMemoryWebSessions:
        return InMemoryWebSessions(self._work())

    @property
    def attempts(self) -> InMemoryAttempts:
        return InMemoryAttempts(self._work())

    @property
    def config(self) -> InMemoryConfig:
        return InMemoryConfig(self._work())

    @property
    def domains(self) -> InMemoryDomains:
        return InMemoryDomains(self._work())

    @property
    def policies(self) -> InMemoryPolicies:
        return InMemoryPolicies(self._work())

    @property
    def webhooks(self) -> InMemoryWebhooks:
        return InMemoryWebhooks(self._work())

    @property
    def delivery_logs(self) -> InMemoryDeliveryLogs:
        return InMemoryDeliveryLogs(self._work())

    @property
    def messages(self) -> InMemoryMessages:
        return InMemoryMessages(self._work())

    @property
    def jobs(self) -> InMemoryJobs:
        return InMemoryJobs(self._work())

    @property
    def activity(self) -> InMemoryActivity:
        return InMemoryActivity(self._work())

    def reading(self) -> Self:
        self._local.read_only = True
        return self

    def __enter__(self) -> Self:
        # A block that may write holds the lock to its end, as SQLite's BEGIN IMMEDIATE
        # holds the write lock: writers take turns, so one never overwrites another's
        # commit with a copy made before it (two delivery workers on one store). A
        # reading() block works on a snapshot and waits for nobody.
        writing = not getattr(self._local, "read_only", False)
        if writing:
            self._lock.acquire()
        self._local.holding = writing
        try:
            with self._lock:
                self._local.work = copy.deepcopy(self.committed)
        except BaseException:
            self._release()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._local.work = None
        self._local.read_only = False
        self._release()

    def _release(self) -> None:
        if getattr(self._local, "holding", False):
            self._local.holding = False
            self._lock.release()

    def commit(self) -> None:
        if getattr(self._local, "read_only", False):
            raise RuntimeError("commit() in a reading() block")
        with self._lock:
            self.committed = copy.deepcopy(self._work())
