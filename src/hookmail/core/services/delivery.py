"""The delivery side: claim due jobs (rate limits held across workers), POST, record."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from attrs import evolve, frozen

from hookmail._version import __version__
from hookmail.core import formats, payload, retry, signing
from hookmail.core.deliveries import DeliveryLog, DeliveryStatus
from hookmail.core.formats import AttachmentLinks
from hookmail.core.mail import DeliveryJob, InboundMessage, JobStatus
from hookmail.core.ports import Clock, HttpOutcome, UnitOfWork, WebhookTransport
from hookmail.core.services import webhook_health
from hookmail.core.services.webhook_health import HealthPolicy
from hookmail.core.webhooks import Webhook

RATE_WINDOW = timedelta(seconds=60)
DEFAULT_RETRY_SCHEDULE = (5, 300, 1800, 7200, 18000, 36000, 36000)


@frozen(kw_only=True)
class DeliveryConfig:
    """How deliveries are made; the defaults are those of SPEC §2 (HOOKMAIL_RETRY_SCHEDULE,
    HOOKMAIL_DELIVERY_TIMEOUT)."""

    retry_schedule: tuple[int, ...] = DEFAULT_RETRY_SCHEDULE
    timeout: float = 10.0
    user_agent: str = f"hookmail/{__version__}"
    attachment_links: AttachmentLinks | None = None  # None: attachments always inline


@frozen
class Work:
    job: DeliveryJob
    message: InboundMessage
    webhook: Webhook
    timezone: str


class ParsedMessages:
    """Each message is parsed once per worker, however many webhooks it goes to."""

    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._cache: OrderedDict[UUID, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()  # delivery threads share one cache

    def __call__(self, message: InboundMessage) -> dict[str, Any]:
        with self._lock:
            found = self._cache.get(message.id)
        if found is None:
            found = payload.parse(message.raw)  # outside the lock: parses run in parallel
            with self._lock:
                self._cache[message.id] = found
                if len(self._cache) > self._size:
                    self._cache.popitem(last=False)
        return found


def _rate_limited(
    uow: UnitOfWork, webhook: Webhook, group: list[DeliveryJob], now: datetime
) -> list[DeliveryJob]:
    """The jobs of `group` the webhook's rate limit lets go now; the others wait."""
    uow.webhooks.lock(webhook.id)
    recent = uow.delivery_logs.attempts_since(webhook.id, now - RATE_WINDOW)
    mine = {j.id for j in group}
    busy = [i for i in uow.jobs.in_flight(webhook.id, now) if i not in mine]
    free = max(0, webhook.rate_limit - len(recent) - len(busy))
    if free >= len(group):
        return group
    slot = recent[0] + RATE_WINDOW if recent else now + timedelta(seconds=5)
    for job in group[free:]:
        uow.jobs.save(evolve(job, claimed_until=None, next_attempt_at=max(slot, now)))
    return group[:free]


def claim(uow: UnitOfWork, clock: Clock, config: DeliveryConfig, *, limit: int) -> list[Work]:
    """Claim up to `limit` due jobs for this worker, holding each webhook's rate limit."""
    now = clock.now()
    # A claimed job may wait for a free thread (at most one attempt's time) and then take
    # one attempt's time; past that lease, a crashed worker's jobs go to another worker.
    lease = now + timedelta(seconds=2 * config.timeout + 10)
    work: list[Work] = []
    with uow:
        jobs = uow.jobs.claim_due(now, limit=limit, lease_until=lease)
        messages = uow.messages.get_many({job.message_id for job in jobs})
        groups: dict[UUID, list[DeliveryJob]] = {}
        for job in jobs:
            groups.setdefault(job.webhook_id, []).append(job)
        for webhook_id, group in groups.items():
            webhook = uow.webhooks.get(webhook_id)
            if webhook is None:
                continue  # deleted since: its jobs went with it
            account = uow.accounts.get(webhook.account_id)
            if webhook.rate_limit:
                group = _rate_limited(uow, webhook, group, now)
            for job in group:
                message = messages.get(job.message_id)
                if message is not None:
                    work.append(Work(job, message, webhook, account.timezone if account else "UTC"))
        uow.commit()
    return work


def _headers(
    work: Work, body: formats.Body, config: DeliveryConfig, now: datetime
) -> dict[str, str]:
    timestamp = int(now.timestamp())
    headers = {"Content-Type": body.content_type, "User-Agent": config.user_agent}
    headers.update(body.headers)
    for name, value in work.webhook.custom_headers.items():
        for existing in [h for h in headers if h.lower() == name.lower()]:
            del headers[existing]
        headers[name] = value
    headers["webhook-id"] = work.job.event_id
    headers["webhook-timestamp"] = str(timestamp)
    headers["webhook-signature"] = signing.signature(
        work.webhook.signing_secrets(now),
        event_id=work.job.event_id,
        timestamp=timestamp,
        body=body.content,
    )
    return headers


def build_request(
    work: Work, parsed: dict[str, Any], config: DeliveryConfig, now: datetime
) -> tuple[bytes, dict[str, str]]:
    """The body and headers an attempt at `work` sends at `now` (`parsed`: the message's
    fields, `payload.parse(work.message.raw)`). `hookmail.webhooks.signed_request` builds
    receivers' test requests with this very function."""
    body = formats.build(
        work.message,
        work.job,
        work.webhook,
        parsed,
        timezone=work.timezone,
        links=config.attachment_links,
        now=now,
    )
    return body.content, _headers(work, body, config, now)


def _outcome_status(
    outcome: HttpOutcome, attempts: int, config: DeliveryConfig, now: datetime
) -> tuple[JobStatus, DeliveryStatus, datetime | None]:
    if 200 <= outcome.http_status < 300:
        return JobStatus.DELIVERED, DeliveryStatus.DELIVERED, None
    if outcome.permanent or outcome.http_status == 410:
        return JobStatus.FAILED, DeliveryStatus.FAILED, None
    honoured = outcome.retry_after if outcome.http_status in (429, 503) else None
    due = retry.next_attempt(
        attempts=attempts, schedule=config.retry_schedule, now=now, retry_after=honoured
    )
    if due is None:
        return JobStatus.FAILED, DeliveryStatus.FAILED, None
    return JobStatus.PENDING, DeliveryStatus.RETRYING, due


@frozen
class Attempt:
    """One attempt made: its log row and the job's next state, to be recorded."""

    work: Work
    log: DeliveryLog
    job: DeliveryJob
    outcome: HttpOutcome | None = None  # what the POST came to (sync mode reads it)


def attempt(
    clock: Clock,
    transport: WebhookTransport,
    config: DeliveryConfig,
    *,
    work: Work,
    parsed: Callable[[InboundMessage], dict[str, Any]],
) -> Attempt:
    """POST once and work out what follows; nothing is stored yet (see record())."""
    started = clock.now()
    body, headers = build_request(work, parsed(work.message), config, started)
    outcome = transport.post(
        work.webhook.target_url, headers=headers, body=body, timeout=config.timeout
    )
    finished = clock.now()
    attempts = work.job.attempts + 1
    # the schedule counts from its (re)start: a replayed job gets the whole schedule again
    this_schedule = attempts - work.job.schedule_start
    job_status, log_status, due = _outcome_status(outcome, this_schedule, config, finished)
    error = outcome.error
    if error is None and not 200 <= outcome.http_status < 300:
        error = f"HTTP {outcome.http_status}"
    log = DeliveryLog.record(
        webhook_id=work.webhook.id,
        attempted_at=started,
        duration_ms=int((finished - started).total_seconds() * 1000),
        http_status=outcome.http_status,
        error=error,
        sender=work.message.envelope.mail_from,
        smtp_message_id=work.message.message_id,
        attempt=attempts,
        status=log_status,
        next_attempt_at=due,
    )
    job = evolve(
        work.job,
        attempts=attempts,
        status=job_status,
        next_attempt_at=due or finished,
        claimed_until=None,
    )
    return Attempt(work, log, job, outcome)


def record(uow: UnitOfWork, attempts: list[Attempt], health: HealthPolicy | None = None) -> None:
    """Store the log rows and the jobs' next states of several attempts in one transaction.
    A job deleted meanwhile (its webhook was) is skipped. With `health`, webhooks failing
    too long are disabled and their owners told (see webhook_health)."""
    with uow:
        recorded = []
        for done in attempts:
            if uow.jobs.get(done.job.id) is None:
                continue
            uow.delivery_logs.add(done.log)
            uow.jobs.save(done.job)
            recorded.append(done)
        then = webhook_health.observe(uow, health, recorded) if health else lambda: None
        uow.commit()
    then()


def deliver_due(
    uow: UnitOfWork,
    clock: Clock,
    transport: WebhookTransport,
    config: DeliveryConfig,
    *,
    limit: int = 100,
    health: HealthPolicy | None = None,
) -> list[Attempt]:
    """One delivery pass, one attempt after another: claim what is due (rate limits held),
    POST each, record them. The delivery worker runs the same steps on threads."""
    parsed = ParsedMessages()
    done = [
        attempt(clock, transport, config, work=work, parsed=parsed)
        for work in claim(uow, clock, config, limit=limit)
    ]
    record(uow, done, health)
    return done
