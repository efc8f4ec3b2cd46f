"""Retries, 410, timeouts, rate limits, the SSRF guard and secret rotation."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook as Verifier

from hookmail.adapters.sql.rows import JobRow
from tests.integration.mail.conftest import Pipeline
from tests.receiver import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

MAIL = b"From: a@example.org\r\nTo: in@example.com\r\nSubject: s\r\n\r\nbody\r\n"


@pytest.fixture
def hooked(pipeline: Pipeline) -> Pipeline:
    pipeline.sign_up()
    pipeline.domain()
    return pipeline


def _statuses(pipeline: Pipeline, hook: dict[str, Any]) -> list[tuple[int, str]]:
    return [(g["http_status"], g["status"]) for g in reversed(pipeline.logs(hook["id"]))]


def test_500_500_200_is_three_attempts_with_one_webhook_id(hooked: Pipeline) -> None:
    hook = hooked.webhook()
    hooked.target.plan = [(500, {}, 0.0), (500, {}, 0.0)]
    hooked.send(MAIL)
    wait_for(lambda: len(hooked.target.received) == 3, what="three attempts")
    ids = {r.headers["webhook-id"] for r in hooked.target.received}
    assert len(ids) == 1
    wait_for(lambda: len(hooked.logs(hook["id"])) == 3)
    assert _statuses(hooked, hook) == [(500, "retrying"), (500, "retrying"), (200, "delivered")]
    attempts = [g["attempt"] for g in reversed(hooked.logs(hook["id"]))]
    assert attempts == [1, 2, 3]


def test_410_stops_retries(hooked: Pipeline) -> None:
    hook = hooked.webhook()
    hooked.target.plan = [(410, {}, 0.0)]
    hooked.send(MAIL)
    wait_for(lambda: len(hooked.logs(hook["id"])) == 1)
    assert _statuses(hooked, hook) == [(410, "failed")]
    hooked.send(MAIL)  # a later mail still goes: 410 ends one job, not the webhook
    wait_for(lambda: len(hooked.target.received) == 2)
    assert len([s for s in _statuses(hooked, hook) if s[0] == 410]) == 1


def test_retries_end_after_the_schedule(hooked: Pipeline) -> None:
    hook = hooked.webhook()
    hooked.target.default = 503
    hooked.send(MAIL)
    wait_for(lambda: len(hooked.logs(hook["id"])) == 4, what="first try and three retries")
    assert _statuses(hooked, hook) == [(503, "retrying")] * 3 + [(503, "failed")]
    assert hooked.logs(hook["id"])[0]["next_attempt_at"] is None


def test_a_timeout_counts_as_a_failed_attempt(hooked: Pipeline) -> None:
    hook = hooked.webhook()
    hooked.target.plan = [(200, {}, 3.0)]  # slower than the 2 s DELIVERY_TIMEOUT
    hooked.send(MAIL)
    wait_for(lambda: any(s == (200, "delivered") for s in _statuses(hooked, hook)), timeout=30)
    first = hooked.logs(hook["id"])[-1]
    assert (first["http_status"], first["status"]) == (0, "retrying")
    assert "timed out" in first["error"]
    assert first["duration_ms"] < 3000


def test_a_redirect_is_not_followed(hooked: Pipeline) -> None:
    hook = hooked.webhook()
    hooked.target.plan = [(302, {"Location": "http://127.0.0.1:9/elsewhere"}, 0.0)]
    hooked.send(MAIL)
    wait_for(lambda: len(hooked.logs(hook["id"])) == 2)
    assert _statuses(hooked, hook) == [(302, "retrying"), (200, "delivered")]


@pytest.mark.parametrize("settings_overrides", [{"allow_private_targets": False}])
def test_private_targets_are_refused_and_not_retried(hooked: Pipeline) -> None:
    hook = hooked.webhook()
    hooked.send(MAIL)
    wait_for(lambda: len(hooked.logs(hook["id"])) == 1)
    (log,) = hooked.logs(hook["id"])
    assert (log["http_status"], log["status"]) == (0, "failed")
    assert "loopback" in log["error"]
    assert hooked.target.received == []


def test_a_new_secret_signs_beside_the_old_one_for_a_day(hooked: Pipeline) -> None:
    hook = hooked.webhook()
    new = "whsec_" + "QUJD" * 11
    hooked.call("PUT", f"/api/v1/webhooks/{hook['id']}", {"secret": new})
    hooked.send(MAIL)
    wait_for(lambda: len(hooked.target.received) == 1)
    post = hooked.target.received[0]
    headers = {k.lower(): v for k, v in post.headers.items()}
    assert len(headers["webhook-signature"].split(" ")) == 2
    Verifier(new).verify(post.body, headers)
    Verifier(hook["secret"]).verify(post.body, headers)


def test_custom_headers_are_sent(hooked: Pipeline) -> None:
    hooked.webhook(custom_headers={"Authorization": "Bearer app", "Content-Type": "text/plain"})
    hooked.send(MAIL)
    wait_for(lambda: len(hooked.target.received) == 1)
    headers = hooked.target.received[0].headers
    assert headers["Authorization"] == "Bearer app"
    assert headers["Content-Type"] == "text/plain"
    assert json.loads(hooked.target.received[0].body)["subject"] == "s"


def _waiting(pipeline: Pipeline) -> list[datetime]:
    """When the pending jobs are due, read straight from the queue's table."""
    with pipeline.container.engine().connect() as connection:
        rows = connection.execute(select(JobRow.next_attempt_at).where(JobRow.status == "pending"))
        return [at.replace(tzinfo=UTC) if at.tzinfo is None else at for (at,) in rows]


def test_a_rate_limit_of_one_a_minute_holds_mail_back_without_dropping(hooked: Pipeline) -> None:
    hook = hooked.webhook(rate_limit=1)
    for _ in range(3):
        hooked.send(MAIL)
    wait_for(lambda: len(hooked.target.received) == 1)
    wait_for(lambda: len(_waiting(hooked)) == 2, what="two waiting")
    now = hooked.container.clock().now()
    # they wait for the minute to pass, at most a minute from now
    wait_for(
        lambda: all((at - now).total_seconds() > 50 for at in _waiting(hooked)),
        what="both pushed past the window",
    )
    assert all((at - now).total_seconds() <= 61 for at in _waiting(hooked))
    assert len(hooked.target.received) == 1
    assert _statuses(hooked, hook) == [(200, "delivered")]
