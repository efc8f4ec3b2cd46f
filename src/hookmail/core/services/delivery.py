"""The delivery side: claim due jobs (rate limits held across workers), POST, record."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from attrs import evolve, field, frozen

from hookmail._version import __version__
from hookmail.core import formats, payload, retry, signing
from hookmail.core.deliveries import DeliveryJob, DeliveryLog, DeliveryStatus, JobStatus
from hookmail.core.formats import AttachmentLinks
from hookmail.core.mail import InboundMessage
from hookmail.core.ports import (
    AsyncWebhookTransport,
    Clock,
    HttpOutcome,
    UnitOfWork,
    WebhookTransport,
)
from hookmail.core.services import webhook_health
from hookmail.core.services.webhook_health import HealthPolicy
from hookmail.core.webhooks import RESERVED_HEADER_PREFIXES, Webhook

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
    # Fair share (SPEC §5): at most this many attempts in flight per webhook in each
    # worker (of its 64, by default); a webhook that is failing (a hanging or erroring
    # target) gets the smaller share, so it holds a few and no more, while a healthy busy
    # one can use many. A share of each worker's capacity: more workers, more for each.
    per_webhook: int = 16
    per_failing_webhook: int = 2


class SharedParse:
    """A message parsed at most once for all its jobs in one claim, and kept no longer
    than they are: nothing parsed outlives the attempts that need it."""

    def __init__(self) -> None:
        self._value: dict[str, Any] | None = None
        self._lock = threading.Lock()

    def __call__(self, message: InboundMessage) -> dict[str, Any]:
        with self._lock:
            if self._value is None:
                self._value = payload.parse(message.raw)
            return self._value


@frozen
class Work:
    job: DeliveryJob
    message: InboundMessage
    webhook: Webhook
    timezone: str
    parsed: Callable[[InboundMessage], dict[str, Any]] = field(factory=SharedParse)


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


def claim(
    uow: UnitOfWork,
    clock: Clock,
    config: DeliveryConfig,
    *,
    limit: int,
    finished: Sequence[Attempt] = (),
    health: HealthPolicy | None = None,
    held: Mapping[UUID, int] | None = None,
) -> list[Work]:
    """Record `finished` attempts and claim up to `limit` due jobs for this worker, in one
    transaction (one commit, where there used to be two), holding each webhook's rate limit
    and fair share. With `health`, webhooks failing too long are disabled and their owners
    told once the transaction has committed (see webhook_health). `held`: the caller's
    attempts in flight per webhook, once `finished` are recorded (see JobRepository.claim_due)."""
    now = clock.now()
    # Claimed jobs start at once (a worker claims only what it has threads for); past one
    # attempt's time and a margin, a crashed worker's jobs go to another worker.
    lease = now + timedelta(seconds=2 * config.timeout + 10)
    work: list[Work] = []
    with uow:
        then = _record(uow, finished, health)
        if limit > 0:
            work = _claim(uow, config, now=now, lease=lease, limit=limit, held=held)
        uow.commit()
    then()
    return work


def _claim(
    uow: UnitOfWork,
    config: DeliveryConfig,
    *,
    now: datetime,
    lease: datetime,
    limit: int,
    held: Mapping[UUID, int] | None,
) -> list[Work]:
    jobs = uow.jobs.claim_due(
        now,
        limit=limit,
        lease_until=lease,
        per_webhook=config.per_webhook,
        per_failing_webhook=config.per_failing_webhook,
        held=held,
    )
    if not jobs:
        return []
    messages = uow.messages.get_many({job.message_id for job in jobs})
    parses = {message_id: SharedParse() for message_id in messages}
    groups: dict[UUID, list[DeliveryJob]] = {}
    for job in jobs:
        groups.setdefault(job.webhook_id, []).append(job)
    webhooks = uow.webhooks.get_many(set(groups))
    work: list[Work] = []
    for webhook_id, group in groups.items():
        if webhook_id not in webhooks:
            continue  # deleted since: its jobs went with it
        webhook, timezone = webhooks[webhook_id]
        if webhook.rate_limit:
            group = _rate_limited(uow, webhook, group, now)
        for job in group:
            message = messages.get(job.message_id)
            if message is not None:
                work.append(Work(job, message, webhook, timezone, parses[message.id]))
    return work


def _headers(
    work: Work, body: formats.Body, config: DeliveryConfig, now: datetime
) -> dict[str, str]:
    timestamp = int(now.timestamp())
    headers = {"Content-Type": body.content_type, "User-Agent": config.user_agent}
    headers.update(body.headers)
    for name, value in work.webhook.custom_headers.items():
        if name.lower().startswith(RESERVED_HEADER_PREFIXES):
            continue  # ours alone; check_headers refuses them, this guards a stored one
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
    """One attempt made: its log row and the job's next state, to be recorded. It keeps
    no reference to the message, so a big one is freed as soon as its attempts are done."""

    webhook: Webhook
    received_at: datetime
    log: DeliveryLog
    job: DeliveryJob
    outcome: HttpOutcome | None = None  # what the POST came to (sync mode reads it)


def _printable(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"[:500]
    return text.encode("utf-8", "replace").decode("utf-8")


@frozen
class Sending:
    """An attempt's request, built at `started`; or, when it could not be built (a template
    that fails or runs over its bounds, a payload that can't be encoded), the failure."""

    started: datetime
    body: bytes = b""
    headers: dict[str, str] = field(factory=dict)
    failed: HttpOutcome | None = None


def start(clock: Clock, config: DeliveryConfig, work: Work) -> Sending:
    """Build the request of an attempt at `work`, now."""
    started = clock.now()
    try:
        body, headers = build_request(work, work.parsed(work.message), config, started)
    except Exception as exc:  # any failure to build is this attempt's failure
        return Sending(
            started, failed=HttpOutcome(0, f"could not build the delivery: {_printable(exc)}")
        )
    return Sending(started, body, headers)


def send(
    transport: WebhookTransport, config: DeliveryConfig, work: Work, sending: Sending
) -> HttpOutcome:
    """POST `sending` (a transport that fails unexpectedly is a failed attempt too)."""
    if sending.failed is not None:
        return sending.failed
    try:
        return transport.post(
            work.webhook.target_url,
            headers=sending.headers,
            body=sending.body,
            timeout=config.timeout,
        )
    except Exception as exc:
        return _send_failed(exc)


async def send_async(
    transport: AsyncWebhookTransport, config: DeliveryConfig, work: Work, sending: Sending
) -> HttpOutcome:
    """send(), on the caller's event loop."""
    if sending.failed is not None:
        return sending.failed
    try:
        return await transport.post_async(
            work.webhook.target_url,
            headers=sending.headers,
            body=sending.body,
            timeout=config.timeout,
        )
    except Exception as exc:
        return _send_failed(exc)


def _send_failed(exc: Exception) -> HttpOutcome:
    """A transport that failed unexpectedly: a failed attempt like any other."""
    return HttpOutcome(0, f"sending failed: {_printable(exc)}")


def finish(
    clock: Clock, config: DeliveryConfig, work: Work, started: datetime, outcome: HttpOutcome
) -> Attempt:
    """What an attempt begun at `started` that came to `outcome` leaves to record."""
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
        job_id=work.job.id,
    )
    job = evolve(
        work.job,
        attempts=attempts,
        status=job_status,
        next_attempt_at=due or finished,
        claimed_until=None,
    )
    return Attempt(work.webhook, work.message.received_at, log, job, outcome)


def attempt(
    clock: Clock,
    transport: WebhookTransport,
    config: DeliveryConfig,
    *,
    work: Work,
) -> Attempt:
    """POST once and work out what follows; nothing is stored yet (see claim()).

    start, send and finish, one after the other; the delivery worker runs the same three
    with the POST on its event loop. A delivery that can't be built or a transport that fails
    unexpectedly is a failed attempt like any other: logged with the reason, retried on the
    schedule (SPEC §5)."""
    sending = start(clock, config, work)
    started = sending.started
    outcome = send(transport, config, work, sending)
    del sending  # a big body is freed before the attempt is recorded
    return finish(clock, config, work, started, outcome)


def record(
    uow: UnitOfWork, attempts: Sequence[Attempt], health: HealthPolicy | None = None
) -> None:
    """Store the log rows and the jobs' next states of several attempts in one transaction."""
    with uow:
        then = _record(uow, attempts, health)
        uow.commit()
    then()


def _record(
    uow: UnitOfWork, attempts: Sequence[Attempt], health: HealthPolicy | None
) -> Callable[[], None]:
    """A job deleted meanwhile (its webhook was) is skipped (save_attempts). Returns what to
    do once the transaction has committed."""
    if not attempts:
        return _nothing
    uow.jobs.save_attempts([done.job for done in attempts], [done.log for done in attempts])
    # a deleted job's webhook went with it: observing its attempt changes nothing
    return webhook_health.observe(uow, health, list(attempts)) if health else _nothing


def _nothing() -> None:
    return None


def deliver_due(
    uow: UnitOfWork,
    clock: Clock,
    transport: WebhookTransport,
    config: DeliveryConfig,
    *,
    limit: int = 100,
    health: HealthPolicy | None = None,
) -> list[Attempt]:
    """One delivery pass, one attempt after another: claim what is due (rate limits and
    fair shares held), POST each, record them. The delivery worker runs the same steps on
    threads."""
    done = [
        attempt(clock, transport, config, work=work)
        for work in claim(uow, clock, config, limit=limit)
    ]
    record(uow, done, health)
    return done
