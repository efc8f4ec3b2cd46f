"""Synchronous webhooks (SPEC §6.4): the SMTP session makes a `sync` recipient's first
attempt itself, after DATA and before it replies, and the receiver's answer decides the
reply. The attempt is the queue's own (delivery.attempt: same payload, signature, SSRF
guard and timeout); only what follows from its outcome differs:

| outcome of a sync attempt          | that recipient  | the message                   |
| ---------------------------------- | --------------- | ----------------------------- |
| 2xx                                | delivered       | stored if the reply is 250    |
| 4xx other than 408 and 429         | refused         | 550 5.7.1 if none is left     |
| 408, 429, 5xx, timeout, no answer  | -               | 451 4.3.0, nothing stored     |
| over the webhook's rate_limit      | not attempted   | 451 4.7.0, nothing stored     |

Queue-mode recipients of the same message are stored only when the reply is 250. Every
attempt's log row is stored, whatever the reply.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from attrs import evolve, frozen

from hookmail.core.deliveries import DeliveryJob, DeliveryLog, DeliveryStatus
from hookmail.core.ports import UnitOfWork
from hookmail.core.services.delivery import RATE_WINDOW, Attempt, Work
from hookmail.core.services.inbound import Accepted, Prepared
from hookmail.core.webhooks import DeliveryMode, Webhook


def sync_jobs(prepared: Prepared, accepted: list[Accepted]) -> list[tuple[DeliveryJob, Webhook]]:
    """The jobs of `prepared` whose webhook is in sync mode, each with its webhook."""
    sync = {
        a.webhook.id: a.webhook for a in accepted if a.webhook.delivery_mode is DeliveryMode.SYNC
    }
    return [(job, sync[job.webhook_id]) for job in prepared.jobs if job.webhook_id in sync]


def admit(
    uow: UnitOfWork,
    now: datetime,
    jobs: list[tuple[DeliveryJob, Webhook]],
    prepared: Prepared,
    *,
    in_flight: Mapping[UUID, int],
) -> list[Work] | None:
    """The work of the sync attempts to make now, or None when a webhook's rate limit has no
    room (then none is made). The same rule as the queue's: attempts started in the last 60
    seconds and jobs claimed by workers, plus `in_flight` sync attempts of this process,
    decided under the webhook's row lock."""
    if prepared.message is None:
        return []
    work: list[Work] = []
    limited = any(webhook.rate_limit for _, webhook in jobs)
    with uow if limited else uow.reading():  # only a rate limit needs the row lock
        for job, webhook in jobs:
            current = uow.webhooks.get(webhook.id) or webhook
            if current.rate_limit:
                uow.webhooks.lock(webhook.id)
                recent = uow.delivery_logs.attempts_since(webhook.id, now - RATE_WINDOW)
                busy = len(uow.jobs.in_flight(webhook.id, now)) + in_flight.get(webhook.id, 0)
                if len(recent) + busy >= current.rate_limit:
                    return None
            account = uow.accounts.get(current.account_id)
            timezone = account.timezone if account else "UTC"
            work.append(Work(job, prepared.message, current, timezone))
        if limited:
            uow.commit()
    return work


class Verdict(StrEnum):
    ACCEPT = "accept"  # 250: the message and its remaining jobs are stored
    REFUSE = "refuse"  # 550 5.7.1: every recipient refused
    TEMPORARY = "temporary"  # 451 4.3.0: nothing of the message stored


@frozen
class Settled:
    verdict: Verdict
    to_commit: Prepared  # what to store: the message and jobs only for ACCEPT, logs always
    refused_status: int = 0  # for REFUSE: the HTTP status of the (last) refusal
    refused_error: str = ""


def _refused(attempt: Attempt) -> bool:
    """A definite no from the target: a 4xx other than 408 and 429, or a target the SSRF
    guard refuses (retrying can't help either)."""
    outcome = attempt.outcome
    status = attempt.log.http_status
    return (400 <= status < 500 and status not in (408, 429)) or bool(outcome and outcome.permanent)


def settle(prepared: Prepared, attempts: Collection[Attempt]) -> Settled:
    """What the SMTP reply is and what to store, given the sync attempts made."""
    delivered = {a.job.id: a.job for a in attempts if a.log.status is DeliveryStatus.DELIVERED}
    refused = [a for a in attempts if a.job.id not in delivered and _refused(a)]
    if len(delivered) + len(refused) < len(attempts):  # some answer was temporary
        return Settled(Verdict.TEMPORARY, Prepared(None, (), _logs(prepared, attempts, set())))
    dropped = {a.job.id for a in refused}
    jobs = tuple(delivered.get(j.id, j) for j in prepared.jobs if j.id not in dropped)
    logs = _logs(prepared, attempts, {j.id for j in jobs})
    if not jobs:
        last = refused[-1].log if refused else None
        return Settled(
            Verdict.REFUSE,
            Prepared(None, (), logs),
            refused_status=last.http_status if last else 0,
            refused_error=(last.error or "") if last else "",
        )
    return Settled(Verdict.ACCEPT, evolve(prepared, jobs=jobs, refusals=logs))


def _logs(
    prepared: Prepared, attempts: Collection[Attempt], stored: set[UUID]
) -> tuple[DeliveryLog, ...]:
    """The rows to store: refusals and every attempt's. An attempt names its job only when
    the job is stored; the others go by age, like refusals (retention, SPEC §6.7)."""
    made = (a.log if a.job.id in stored else evolve(a.log, job_id=None) for a in attempts)
    return (*prepared.refusals, *made)
