"""Ports: what the core needs from the outside world, as `typing.Protocol`s.

Adapters don't inherit from these; mypy proves conformance where they meet a typed parameter.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Protocol, Self, runtime_checkable
from uuid import UUID

from attrs import frozen

from hookmail.core.accounts import Account
from hookmail.core.deliveries import DeliveryJob, DeliveryLog, DeliveryStatus, JobStatus
from hookmail.core.domains import Domain, DomainName
from hookmail.core.mail import DkimResult, DmarcOutcome, InboundMessage, SpfOutcome
from hookmail.core.messages import MessageStatus, MessageSummary
from hookmail.core.smtp_policies import SmtpPolicy, StoredLogin
from hookmail.core.tokens import IssuedToken, TokenKind
from hookmail.core.web_sessions import WebSession
from hookmail.core.webhooks import Webhook


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class PasswordHasher(Protocol):
    def hash(self, secret: str) -> str: ...

    def verify(self, secret: str, hashed: str) -> bool:
        """True when `secret` matches; False (never raises) for a wrong or malformed hash."""
        ...

    def burn(self, secret: str) -> None:
        """Spend the time one verify() costs, so a missing user looks like a wrong password."""
        ...


class CredentialHasher(Protocol):
    """Hashes SMTP credentials so that one computation finds a password among every
    credential sharing its user name, however many accounts use that name
    (docs/architecture.md, "SMTP AUTH")."""

    def hash(self, user: str, password: str) -> str:
        """The stored form. Deterministic: the salt is derived from a key kept in the store
        and `user`, so equal pairs give equal strings and a login is found by equality."""
        ...

    def keyed_prefix(self, user: str) -> str:
        """What every hash() of `user` begins with (the parameters and the derived salt)."""
        ...

    def verify(self, user: str, password: str, hashed: str) -> bool:
        """Whether `password` matches any stored form: one from hash(), one made with other
        parameters, or a randomly salted hash from before keyed salts. False, never raises,
        for a wrong or malformed hash."""
        ...


class EmailSyntax(Protocol):
    def normalize(self, raw: str) -> str:
        """The address lower-cased and checked for syntax (no DNS). Raises InvalidField."""
        ...


@frozen
class AccessClaims:
    account_id: UUID
    token_version: int


class AccessTokens(Protocol):
    lifetime_seconds: int

    def issue(self, *, account_id: UUID, token_version: int, now: datetime) -> str: ...

    def verify(self, token: str, *, now: datetime) -> AccessClaims:
        """The claims of a valid, unexpired access token. Raises InvalidToken otherwise."""
        ...


class Mailer(Protocol):
    def send(self, *, to: str, subject: str, body: str) -> None:
        """Hand a plain-text mail over for sending; never raises for delivery problems."""
        ...


class Background(Protocol):
    def submit(self, task: Callable[[], None]) -> None:
        """Run `task` soon, off the caller's path, so the caller's answer can't depend on
        what the task finds; a failure of the task is logged, never raised to the caller."""
        ...


class AccountRepository(Protocol):
    def get(self, account_id: UUID) -> Account | None: ...

    def by_email(self, email: str) -> Account | None:
        """The account whose (lower-cased) email is `email`, or None."""
        ...

    def add(self, account: Account) -> None:
        """Insert. Raises EmailTaken if the email is in use."""
        ...

    def save(self, account: Account) -> None:
        """Update an existing account by id."""
        ...

    def lock(self, account_id: UUID) -> None:
        """Hold the account's row until the transaction ends, so decisions about what the
        account holds (quotas) are taken one at a time across every process."""
        ...

    def delete(self, account_id: UUID) -> None:
        """Delete the account and everything it owns; no-op when absent."""
        ...


class TokenRepository(Protocol):
    def add(self, token: IssuedToken) -> None: ...

    def by_hash(self, kind: TokenKind, token_hash: str) -> IssuedToken | None:
        """The stored token of that kind with that digest (used or not), or None."""
        ...

    def save(self, token: IssuedToken) -> None: ...

    def revoke_family(self, family_id: UUID, now: datetime) -> None:
        """Mark every unused token of the family used."""
        ...

    def revoke_all(self, account_id: UUID, kind: TokenKind, now: datetime) -> None:
        """Mark every unused token of that kind of the account used."""
        ...

    def prune(self, before: datetime) -> None:
        """Forget every token (used or not) that expired before `before`."""
        ...


class WebSessionRepository(Protocol):
    def add(self, session: WebSession) -> None: ...

    def by_hash(self, token_hash: str) -> WebSession | None:
        """The session with that token digest (expired or not), or None."""
        ...

    def delete(self, session_id: UUID) -> None:
        """End the session; no-op when absent."""
        ...

    def prune(self, before: datetime) -> None:
        """Forget every session that expired before `before`."""
        ...


class AttemptLog(Protocol):
    """Timestamped events per key, for rate limits that hold across processes."""

    def record(self, key: str, at: datetime) -> None: ...

    def since(self, key: str, since: datetime) -> list[datetime]:
        """The events of `key` strictly after `since`, oldest first ([] when none)."""
        ...

    def prune(self, before: datetime) -> None:
        """Forget every event older than `before`."""
        ...


class ConfigStore(Protocol):
    """Small named values shared by every process through the store."""

    def get(self, name: str) -> str | None: ...

    def put_if_absent(self, name: str, value: str) -> None:
        """Store `value` unless `name` exists; the first writer wins."""
        ...


class DnsFailure(Exception):
    """The DNS could not answer (timeout, SERVFAIL, no server): not the same as "no record"."""


class TxtResolver(Protocol):
    def txt(self, name: str) -> list[str]:
        """The TXT strings at `name` (each record's strings joined); [] when the name or the
        record does not exist. Raises DnsFailure when DNS itself fails."""
        ...


class DomainRepository(Protocol):
    def get(self, domain_id: UUID) -> Domain | None: ...

    def named(self, name: DomainName) -> list[Domain]:
        """Every row of that name: the claims of several accounts, or the public one."""
        ...

    def visible_to(self, account_id: UUID) -> list[Domain]:
        """The account's own domains and the public ones, oldest first."""
        ...

    def public(self) -> list[Domain]: ...

    def count_of_account(self, account_id: UUID) -> int:
        """How many domains the account has claimed (verified or not; public ones aside)."""
        ...

    def save(self, domain: Domain) -> None:
        """Insert or update by id. Raises DomainTaken when a second row of one name would be
        verified, or one account would claim a name twice."""
        ...

    def delete(self, domain_id: UUID) -> None:
        """Delete the domain and the webhooks on it."""
        ...


class PolicyRepository(Protocol):
    def get(self, policy_id: UUID) -> SmtpPolicy | None: ...

    def of_account(self, account_id: UUID) -> list[SmtpPolicy]:
        """Oldest first."""
        ...

    def save(self, policy: SmtpPolicy) -> None: ...

    def delete(self, policy_id: UUID) -> None: ...

    def count_of_account(self, account_id: UUID) -> int:
        """How many policies the account has."""
        ...

    def logins(self, user: str, *, digest: str, keyed_prefix: str) -> list[StoredLogin]:
        """The credentials (of any account) for `user` whose hash is `digest`, and those for
        `user` whose hash does not begin with `keyed_prefix` (older forms, which must be
        verified one by one; `""` asks for none of those). One indexed read: never every
        credential of a user name."""
        ...

    def rehash(self, policy_id: UUID, user: str, *, old: str, new: str) -> None:
        """Replace the credential's hash `old` by `new`; no-op when it changed meanwhile."""
        ...


@frozen
class Route:
    webhook: Webhook
    domain: Domain
    policy: SmtpPolicy | None


class WebhookRepository(Protocol):
    def get(self, webhook_id: UUID) -> Webhook | None: ...

    def get_many(self, webhook_ids: set[UUID]) -> dict[UUID, tuple[Webhook, str]]:
        """The webhooks that exist among `webhook_ids`, each with its account's timezone
        (one query: the delivery worker's claim reads these)."""
        ...

    def of_account(self, account_id: UUID) -> list[Webhook]:
        """Oldest first."""
        ...

    def routes(self, addresses: list[str]) -> dict[str, Route]:
        """The webhooks whose address is one of `addresses`, keyed by address, each with its
        domain and policy: what RCPT TO needs, read at once (the SMTP worker's hottest read)."""
        ...

    def has_tagged(self, domain: str) -> bool:
        """Whether a webhook address on `domain` (a domain name in normal form) has a `+tag`
        in its local part: without one, `local+tag@domain` routes as `local@domain` does,
        whatever the tag (RCPT TO answers such addresses from its cache)."""
        ...

    def lock(self, webhook_id: UUID) -> None:
        """Hold the webhook's row until the transaction ends, so rate-limit decisions about
        it are taken one at a time across every worker."""
        ...

    def count_of_account(self, account_id: UUID) -> int:
        """How many webhooks the account has."""
        ...

    def using_policy(self, policy_id: UUID) -> int:
        """How many webhooks use the policy."""
        ...

    def save(self, webhook: Webhook) -> None:
        """Insert or update by id. Raises AddressTaken if another webhook has the address."""
        ...

    def delete(self, webhook_id: UUID) -> None:
        """Delete the webhook and its delivery logs."""
        ...

    def mark_failing(self, webhook_id: UUID, since: datetime) -> None:
        """Set `failing_since` to `since` unless it is set already."""
        ...

    def mark_healthy(self, webhook_id: UUID) -> None:
        """Clear `failing_since` (a delivery succeeded)."""
        ...

    def disable_failing(self, webhook_id: UUID, *, failing_before: datetime, now: datetime) -> bool:
        """Make the webhook inactive with `disabled_reason` "failing" if it is active and
        has been failing since before `failing_before`. True only for the one call that
        disabled it (so its owner is told once, however many workers saw it fail)."""
        ...


class DeliveryLogRepository(Protocol):
    def add(self, log: DeliveryLog) -> None: ...

    def add_many(self, logs: list[DeliveryLog]) -> None:
        """Insert several at once (one statement per batch of recorded attempts)."""
        ...

    def get(self, webhook_id: UUID, log_id: UUID) -> DeliveryLog | None:
        """The entry, if it belongs to that webhook."""
        ...

    def of_webhook(self, webhook_id: UUID, *, offset: int, limit: int) -> list[DeliveryLog]:
        """Newest first."""
        ...

    def attempts_since(self, webhook_id: UUID, since: datetime) -> list[datetime]:
        """When the webhook's delivery attempts after `since` started, oldest first
        (refusals by policy are no attempts)."""
        ...

    def remove_unlinked(self, attempted_before: datetime, *, limit: int) -> int:
        """Delete up to `limit` of the oldest rows attempted before `attempted_before` that
        name no job (`job_id` None: refusals, sync attempts whose message was not stored,
        rows written before the column). A row that is not a refusal stays while a pending
        job of its webhook created at or before it exists (it may be that job's). How many
        were deleted; fewer than `limit` means none is left. Rows that name a job go with
        its message (MessageRepository.remove_expired)."""
        ...


class MessageRepository(Protocol):
    def add(self, message: InboundMessage) -> None: ...

    def add_many(self, messages: list[InboundMessage]) -> None:
        """Insert several at once (one statement: group commit's hot path)."""
        ...

    def get(self, message_id: UUID) -> InboundMessage | None: ...

    def get_many(self, message_ids: set[UUID]) -> dict[UUID, InboundMessage]:
        """The messages that exist among `message_ids`, by id (one query, not one each)."""
        ...

    def page_of_account(
        self,
        account_id: UUID,
        *,
        webhook_id: UUID | None,
        status: MessageStatus | None,
        offset: int,
        limit: int,
    ) -> list[UUID]:
        """The ids of the messages the account has deliveries of (only those to
        `webhook_id` when given; only those whose status as the account sees it is
        `status` when given), newest first, one page. Never counts the whole set."""
        ...

    def summaries(self, message_ids: set[UUID]) -> dict[UUID, MessageSummary]:
        """What the list shows of the messages among `message_ids` (bodies are not read)."""
        ...

    def remove_expired(self, received_before: datetime, *, limit: int) -> int:
        """Delete up to `limit` of the oldest messages received before `received_before`
        none of whose jobs is pending, with their jobs and the log rows that name those jobs
        (retention, SPEC §6.7). A job turned pending meanwhile (a replay) keeps its message.
        How many messages were deleted; fewer than `limit` means none is left for now. Safe
        to run in several processes at once (each skips the rows another is deleting)."""
        ...


class JobRepository(Protocol):
    def add(self, job: DeliveryJob) -> None: ...

    def add_many(self, jobs: list[DeliveryJob]) -> None:
        """Insert several at once, after their messages."""
        ...

    def get(self, job_id: UUID) -> DeliveryJob | None: ...

    def save(self, job: DeliveryJob) -> None: ...

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
        """Up to `limit` pending jobs due by `now` and not claimed by a live worker, oldest
        due first, now claimed until `lease_until`. Jobs of inactive webhooks wait. Fair
        share: a webhook with `per_webhook` jobs in flight gets no more -
        `per_failing_webhook` (default: the same) while it is failing - so one slow
        target's backlog can't fill a worker. In flight: `held`, the caller's own attempts
        per webhook (a worker's share is of its own capacity, so each worker added adds
        capacity for a busy webhook too); without it, the live leases of every worker.
        Jobs other workers are claiming at this moment are skipped, never waited for."""
        ...

    def existing(self, job_ids: set[UUID]) -> set[UUID]:
        """Which of `job_ids` still exist (a webhook's deletion takes its jobs along)."""
        ...

    def save_attempts(self, jobs: list[DeliveryJob], logs: list[DeliveryLog]) -> None:
        """Store attempts made: each job's next state (as save_many) and the attempts' log
        rows (as DeliveryLogRepository.add_many), leaving out the jobs deleted meanwhile (a
        webhook's deletion takes its jobs along) and the log rows of their attempts (by
        `job_id`). One statement where the store can: the delivery worker's hot path."""
        ...

    def save_many(self, jobs: list[DeliveryJob]) -> None:
        """Store the state (status, attempts, next attempt, lease) of existing jobs."""
        ...

    def release(self, job_ids: set[UUID]) -> None:
        """Give claimed jobs back (their lease ends now) without an attempt."""
        ...

    def in_flight(self, webhook_id: UUID, now: datetime) -> list[UUID]:
        """The webhook's pending jobs claimed by a worker whose lease has not run out."""
        ...

    def pending(self) -> int:
        """How many jobs wait for delivery (the queue depth)."""
        ...

    def of_messages(self, account_id: UUID, message_ids: set[UUID]) -> list[DeliveryJob]:
        """The account's jobs of those messages (no other account's), in creation order."""
        ...

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
        """Up to `limit` of the webhook's jobs in one of `statuses` whose message was received
        in [since, until], ordered by (created_at, id) and strictly after `after` when given:
        one batch of a window replay, read by keyset so each batch costs the same."""
        ...

    def requeue(self, job_ids: list[UUID], *, now: datetime) -> int:
        """Queue those jobs that are not pending for an attempt at `now` with a fresh retry
        schedule (see DeliveryJob.replayed); how many were. Pending ones are left as they are,
        so a replay never doubles a delivery."""
        ...


class ActivityReport(Protocol):
    """Counts over an account's recent traffic, for the dashboard's overview, and the
    attempts of one message."""

    def attempts_by_hour(
        self, account_id: UUID, since: datetime, hours: int
    ) -> dict[tuple[int, DeliveryStatus], int]:
        """Delivery log rows of the account's webhooks from `since` on, counted by
        (hour index from `since`, 0 to hours - 1, status)."""
        ...

    def job_statuses(self, account_id: UUID, since: datetime) -> list[tuple[UUID, JobStatus]]:
        """(message id, job status) of every delivery of a message the account received
        since `since`."""
        ...

    def attempts_of(self, job: DeliveryJob, smtp_message_id: str) -> list[DeliveryLog]:
        """A delivery's attempts, oldest first: the log rows that name `job`, and rows
        written before log rows named their job (none named, not a refusal) of the job's
        webhook for the message with that Message-ID from the job's creation on."""
        ...


@frozen
class HttpOutcome:
    """What one POST came to. `http_status` is 0 when no HTTP answer came."""

    http_status: int
    error: str | None = None
    retry_after: int | None = None
    permanent: bool = False  # retrying can't help (the target is refused by the SSRF guard)


class WebhookTransport(Protocol):
    def post(
        self, url: str, *, headers: dict[str, str], body: bytes, timeout: float
    ) -> HttpOutcome:
        """POST once, reading at most 64 KiB of the answer, within `timeout` in all; never
        follows redirects. Failures are outcomes, not exceptions."""
        ...


@runtime_checkable
class AsyncWebhookTransport(WebhookTransport, Protocol):
    """A transport that can also POST on the caller's event loop (the delivery worker keeps
    its attempts in flight on one loop rather than a thread each)."""

    async def post_async(
        self, url: str, *, headers: dict[str, str], body: bytes, timeout: float
    ) -> HttpOutcome:
        """As post(), awaited."""
        ...


class SpfChecker(Protocol):
    def check(self, *, ip: str, mail_from: str, helo: str) -> SpfOutcome:
        """SPF of the MAIL FROM domain (of the HELO name when the sender is null)."""
        ...


class DkimVerifier(Protocol):
    def verify(self, raw: bytes) -> tuple[DkimResult, ...]:
        """One result per DKIM-Signature header; () when the message is unsigned."""
        ...


class DmarcEvaluator(Protocol):
    def evaluate(
        self, *, from_domain: str, spf: SpfOutcome | None, dkim: tuple[DkimResult, ...]
    ) -> DmarcOutcome:
        """DMARC (RFC 7489) of a message whose RFC 5322 From domain is `from_domain`, given
        its SPF and DKIM results: the record at `_dmarc.<from_domain>`, else at the
        organisational domain; `none` without a record, `temperror` when DNS fails. Never
        raises."""
        ...


class UnitOfWork(Protocol):
    """One transaction; leaving the block without commit() discards the work."""

    @property
    def accounts(self) -> AccountRepository: ...
    @property
    def tokens(self) -> TokenRepository: ...
    @property
    def web_sessions(self) -> WebSessionRepository: ...
    @property
    def attempts(self) -> AttemptLog: ...
    @property
    def config(self) -> ConfigStore: ...
    @property
    def domains(self) -> DomainRepository: ...
    @property
    def policies(self) -> PolicyRepository: ...
    @property
    def webhooks(self) -> WebhookRepository: ...
    @property
    def delivery_logs(self) -> DeliveryLogRepository: ...
    @property
    def messages(self) -> MessageRepository: ...
    @property
    def jobs(self) -> JobRepository: ...
    @property
    def activity(self) -> ActivityReport: ...

    def reading(self) -> Self:
        """This unit of work, for its next `with` block only, as a read-only transaction
        (no write lock taken; commit() is an error)."""
        ...

    def __enter__(self) -> Self: ...
    def __exit__(self, *exc: object) -> None: ...
    def commit(self) -> None: ...
