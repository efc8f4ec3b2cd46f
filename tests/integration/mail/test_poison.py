"""Poison jobs (SPEC §5): a delivery that can't be built or sent is a failed attempt with a log
row saying why, retried on the schedule, and the job ends `failed` after it - never an endless
loop, never an unlogged failure. Each case is put where a real one would come from: a template
stored before partials were refused (it fails at render), a header value stored before values
had to be Latin-1, a transport that raises."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from uuid import UUID

import pytest
from attrs import evolve
from dependency_injector import providers
from sqlalchemy import select

from hookmail.adapters.http import PinnedHttpTransport
from hookmail.adapters.sql.rows import JobRow
from hookmail.core.ports import HttpOutcome
from hookmail.entrypoints.container import Container
from tests.integration.mail.conftest import Pipeline
from tests.receiver import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

SCHEDULE = (0, 0, 0)  # four attempts in all
MAIL = b"From: a@example.org\r\nTo: in@example.com\r\nSubject: poison\r\n\r\nbody\r\n"


class ExplodingTransport:
    """The real transport, except for targets whose path ends in /explode: there it raises
    what no transport should (a bug in an adapter, a library's surprise)."""

    def __init__(self, real: PinnedHttpTransport) -> None:
        self.real = real
        self.calls = 0

    def post(
        self, url: str, *, headers: dict[str, str], body: bytes, timeout: float
    ) -> HttpOutcome:
        if url.endswith("/explode"):
            self.calls += 1
            raise RuntimeError("the transport blew up")
        return self.real.post(url, headers=headers, body=body, timeout=timeout)

    def close(self) -> None:
        self.real.close()


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"retry_schedule": SCHEDULE}


@pytest.fixture
def prepare_container() -> Callable[[Container], None]:
    def prepare(container: Container) -> None:
        exploding = ExplodingTransport(container.transport())
        container.transport.override(providers.Object(exploding))

    return prepare


@pytest.fixture
def hooked(pipeline: Pipeline) -> Pipeline:
    pipeline.sign_up()
    pipeline.domain()
    return pipeline


def _store(pipeline: Pipeline, hook: dict[str, Any], **changes: Any) -> None:
    """Change a webhook in the store, past the API's checks (as rows saved by an older
    version are)."""
    with pipeline.container.uow() as uow:
        webhook = uow.webhooks.get(UUID(hook["id"]))
        assert webhook is not None
        uow.webhooks.save(evolve(webhook, **changes))
        uow.commit()


def _jobs(pipeline: Pipeline, hook: dict[str, Any]) -> list[tuple[str, int]]:
    with pipeline.container.engine().connect() as connection:
        rows = connection.execute(
            select(JobRow.status, JobRow.attempts).where(JobRow.webhook_id == UUID(hook["id"]))
        )
        return [(status, attempts) for status, attempts in rows]


def _ends_failed_by_the_schedule(pipeline: Pipeline, hook: dict[str, Any], reason: str) -> None:
    """The job ends `failed` after 1 + len(SCHEDULE) attempts, one log row each saying
    `reason`, and stays so (no further attempt)."""
    attempts = 1 + len(SCHEDULE)
    wait_for(
        lambda: _jobs(pipeline, hook) == [("failed", attempts)],
        timeout=30,
        what="the job to end failed after the schedule",
    )
    time.sleep(1.0)  # the worker polls every 0.05 s: an endless loop would show by now
    assert _jobs(pipeline, hook) == [("failed", attempts)]
    logs = pipeline.logs(hook["id"])
    assert len(logs) == attempts, logs
    assert [g["status"] for g in reversed(logs)] == ["retrying"] * len(SCHEDULE) + ["failed"]
    assert sorted(g["attempt"] for g in logs) == list(range(1, attempts + 1))
    for log in logs:
        assert log["http_status"] == 0
        assert reason in log["error"], log["error"]
    assert [r for r in pipeline.target.received if r.path != "/hook/ok"] == []


def test_a_template_that_fails_at_render_is_a_logged_failed_attempt(hooked: Pipeline) -> None:
    hook = hooked.webhook()
    _store(hooked, hook, payload_template='{"s": "{{> /etc/passwd}}"}')  # stored before the rule
    assert hooked.send(MAIL) == {}
    _ends_failed_by_the_schedule(hooked, hook, "could not build the delivery")
    assert "partial" in hooked.logs(hook["id"])[0]["error"]


def test_a_nul_byte_in_a_stored_partial_is_a_logged_failed_attempt(hooked: Pipeline) -> None:
    hook = hooked.webhook()
    _store(hooked, hook, payload_template='{"s": "{{> a\x00b}}"}')
    assert hooked.send(MAIL) == {}
    _ends_failed_by_the_schedule(hooked, hook, "could not build the delivery")


def test_an_unencodable_stored_header_value_fails_by_the_schedule(hooked: Pipeline) -> None:
    hook = hooked.webhook()
    _store(hooked, hook, custom_headers={"X-Price": "5 €"})
    assert hooked.send(MAIL) == {}
    _ends_failed_by_the_schedule(hooked, hook, "'X-Price' can't be sent")


def test_a_transport_that_raises_is_a_logged_failed_attempt(hooked: Pipeline) -> None:
    hook = hooked.webhook(target_url=hooked.target.url + "/explode")
    healthy = hooked.webhook("ok@example.com", target_url=hooked.target.url + "/ok")
    assert hooked.send(MAIL, to=["in@example.com", "ok@example.com"]) == {}
    blew_up = "sending failed: RuntimeError: the transport blew up"
    _ends_failed_by_the_schedule(hooked, hook, blew_up)
    exploding = hooked.container.transport()
    assert isinstance(exploding, ExplodingTransport)
    assert exploding.calls == 1 + len(SCHEDULE)
    # the same message to another webhook is delivered as usual
    assert _jobs(hooked, healthy) == [("delivered", 1)]
