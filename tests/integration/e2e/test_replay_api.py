"""Replay (SPEC §6.2) over SMTP, the delivery worker and the API, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest
from attrs import evolve
from sqlalchemy import Engine, event

from hookmail.core.deliveries import DeliveryJob, JobStatus
from hookmail.core.mail import AuthResults, Envelope, InboundMessage
from tests.conftest import SQL_STORES, clean_engine
from tests.dns_server import DnsServer
from tests.mailstack import MailStack, mail_stack
from tests.receiver import receiver, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

RAW = b"From: carol@example.org\r\nSubject: replay me\r\n\r\nhello\r\n"


@pytest.fixture(params=SQL_STORES)
def engine(request: pytest.FixtureRequest) -> Engine:
    return clean_engine(request, request.param)


@pytest.fixture
def stack(engine: Engine, dns: DnsServer) -> Iterator[MailStack]:
    with mail_stack(engine, dns) as running:
        yield running


def _message(stack: MailStack, token: str, message_id: str) -> dict[str, Any]:
    found = stack.api.call("GET", f"/api/v1/messages/{message_id}", token)
    assert found.status_code == 200, found.json
    return dict(found.json)


def _settled(stack: MailStack, token: str, message_id: str, attempts: int) -> None:
    """Until every delivery of the message has had `attempts` attempts, recorded."""

    def done() -> bool:
        deliveries = _message(stack, token, message_id)["deliveries"]
        return all(d["attempts"] == attempts for d in deliveries)

    wait_for(done, what=f"{attempts} attempts recorded")


def _replay(stack: MailStack, token: str, path: str, body: Any = None) -> Any:
    kwargs = {} if body is None else {"json": body}
    return stack.api.call("POST", path, token, **kwargs)


def _logs(stack: MailStack, token: str, webhook_id: str) -> list[dict[str, Any]]:
    found = stack.api.call("GET", f"/api/v1/webhooks/{webhook_id}/logs?page_size=100", token)
    return list(found.json)


def test_a_replayed_message_is_sent_again_as_the_same_event(stack: MailStack) -> None:
    api = stack.api
    alice, bob = api.new_user("alice@example.com"), api.new_user("bob@example.com")
    with receiver() as ok, receiver() as gone, receiver() as broken:
        gone.default, broken.default = 410, 500
        a_ok = stack.webhook(alice, "a-ok", ok.url)
        a_gone = stack.webhook(alice, "a-gone", gone.url)
        b_ok = stack.webhook(bob, "b-ok", ok.url)
        message_id = stack.send(RAW, "a-ok", "a-gone", "b-ok")
        _settled(stack, alice, message_id, 1)
        _settled(stack, bob, message_id, 1)
        first = {r.headers["webhook-id"]: r.body for r in ok.received + gone.received}
        api.clock.advance(seconds=1)  # so the logs' newest-first order is the attempts' order

        replayed = _replay(stack, alice, f"/api/v1/messages/{message_id}/replay")
        assert replayed.status_code == 202
        assert replayed.json == {"replayed": 2}  # alice's two; bob's delivery is his
        _settled(stack, alice, message_id, 2)
        assert len(ok.received) == 3  # alice's twice, bob's once
        assert len(gone.received) == 2
        again = ok.received[2:] + gone.received[1:]
        for post in again:
            assert first[post.headers["webhook-id"]] == post.body  # same event, same body
        assert len(_message(stack, bob, message_id)["deliveries"]) == 1
        assert _message(stack, bob, message_id)["deliveries"][0]["attempts"] == 1

        logs = _logs(stack, alice, a_gone["id"])
        assert [g["attempt"] for g in logs] == [2, 1]  # numbers continue, newest first
        assert {g["status"] for g in logs} == {"failed"}

        api.clock.advance(seconds=1)
        only = _replay(
            stack, alice, f"/api/v1/messages/{message_id}/replay", {"webhook_id": a_ok["id"]}
        )
        assert only.json == {"replayed": 1}
        wait_for(
            lambda: any(
                d["attempts"] == 3 for d in _message(stack, alice, message_id)["deliveries"]
            ),
            what="the single replay",
        )
        assert [g["attempt"] for g in _logs(stack, alice, a_ok["id"])] == [3, 2, 1]

        # another account's webhook, or message: 404
        theirs = _replay(
            stack, alice, f"/api/v1/messages/{message_id}/replay", {"webhook_id": b_ok["id"]}
        )
        assert theirs.status_code == 404
        mallory = api.new_user("mallory@example.com")
        hidden = _replay(stack, mallory, f"/api/v1/messages/{message_id}/replay")
        assert hidden.status_code == 404
        assert hidden.json["code"] == "not_found"

        # a pending delivery is not doubled, and an inactive webhook's is left alone
        a_broken = stack.webhook(alice, "a-broken", broken.url)
        waiting = stack.send(RAW, "a-broken", "a-ok")
        _settled(stack, alice, waiting, 1)  # the 500 waits an hour for its retry
        api.call("PUT", f"/api/v1/webhooks/{a_ok['id']}", alice, json={"active": False})
        assert _replay(stack, alice, f"/api/v1/messages/{waiting}/replay").json == {"replayed": 0}
        pending = next(
            d
            for d in _message(stack, alice, waiting)["deliveries"]
            if d["webhook_id"] == a_broken["id"]
        )
        assert (pending["status"], pending["attempts"]) == ("pending", 1)


def test_a_replayed_job_gets_the_whole_retry_schedule_again(engine: Engine, dns: DnsServer) -> None:
    with mail_stack(engine, dns, retry_schedule=(0,)) as stack, receiver() as target:
        target.default = 500  # two attempts, then failed for good
        alice = stack.api.new_user("alice@example.com")
        hook = stack.webhook(alice, "a", target.url)
        message_id = stack.send(RAW, "a")
        wait_for(lambda: _message(stack, alice, message_id)["status"] == "failed", what="failed")
        assert len(target.received) == 2
        stack.api.clock.advance(seconds=1)
        assert _replay(stack, alice, f"/api/v1/messages/{message_id}/replay").json == {
            "replayed": 1
        }
        wait_for(lambda: len(_logs(stack, alice, hook["id"])) == 4, what="two more attempts")
        logs = sorted(_logs(stack, alice, hook["id"]), key=lambda g: -g["attempt"])
        assert [(g["attempt"], g["status"]) for g in logs] == [
            (4, "failed"),
            (3, "retrying"),
            (2, "failed"),
            (1, "retrying"),
        ]
        assert len({r.headers["webhook-id"] for r in target.received}) == 1


def test_a_window_replays_what_was_received_in_it(stack: MailStack) -> None:
    api = stack.api
    alice, bob = api.new_user("alice@example.com"), api.new_user("bob@example.com")
    with receiver() as gone, receiver() as ok:
        gone.default = 410
        hook = stack.webhook(alice, "a", gone.url)
        other = stack.webhook(alice, "b", ok.url)
        start = api.clock.now()
        sent = []
        for _ in range(4):
            sent.append(stack.send(RAW, "a", "b"))
            # settled before the clock jumps past the worker's lease on the jobs
            _settled(stack, alice, sent[-1], 1)
            api.clock.advance(minutes=3)  # 4 x 3 < the 15 minutes an access token lives
        path = f"/api/v1/webhooks/{hook['id']}/replay"
        since = (start + timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
        until = (start + timedelta(minutes=7)).isoformat()  # +00:00 form
        assert _replay(stack, alice, path, {"since": since, "until": until}).json == {"replayed": 2}
        wait_for(lambda: len(gone.received) == 6, what="the two replays")
        assert {r.headers["webhook-id"] for r in gone.received[4:]} == {
            r.headers["webhook-id"] for r in gone.received[1:3]
        }  # the second and third message's events, sent again
        # delivered ones count only with status "all"; the other webhook's are not touched
        other_path = f"/api/v1/webhooks/{other['id']}/replay"
        assert _replay(stack, alice, other_path, {"since": since}).json == {"replayed": 0}
        everything = _replay(stack, alice, other_path, {"since": since, "status": "all"})
        assert everything.status_code == 202
        assert everything.json == {"replayed": 3}
        wait_for(lambda: len(ok.received) == 7, what="the delivered ones again")

        for bad in (
            {},
            {"since": "yesterday"},
            {"since": "2026-04-02T12:00:00"},  # no offset
            {"since": until, "until": since},  # reversed
            {"since": since, "status": "delivered"},
            {"since": 5},
        ):
            refused = _replay(stack, alice, path, bad)
            assert refused.status_code == 422, bad
            assert refused.json["code"] == "validation_error"
        assert _replay(stack, bob, path, {"since": since}).status_code == 404


def _seed_failed(stack: MailStack, webhook_id: str, account: str, count: int) -> None:
    """`count` failed deliveries of the webhook, written straight to the store (getting 10 000
    failures through a target would only test the delivery worker's speed)."""
    uow = stack.container.uow()
    now = stack.api.clock.now() - timedelta(hours=1)
    messages, jobs = [], []
    for n in range(count):
        message = InboundMessage.receive(
            raw=RAW,
            envelope=Envelope(mail_from="a@example.org", rcpt_to=("x",), remote_ip="::1", helo="h"),
            auth=AuthResults(),
            now=now + timedelta(milliseconds=n),
            message_id=None,
        )
        messages.append(message)
        job = DeliveryJob.new(
            message_id=message.id,
            webhook_id=UUID(webhook_id),
            account_id=UUID(account),
            recipients=("x",),
            now=message.received_at,
        )
        jobs.append(evolve(job, status=JobStatus.FAILED, attempts=8))
    with uow:
        uow.messages.add_many(messages)
        uow.jobs.add_many(jobs)
        uow.commit()


def test_ten_thousand_deliveries_replay_in_batches_while_smtp_accepts(
    engine: Engine, dns: DnsServer
) -> None:
    count = 10_000
    with mail_stack(engine, dns, deliver=False) as stack, receiver() as target:
        alice = stack.api.new_user("alice@example.com")
        account = stack.api.call("GET", "/api/v1/accounts/me", alice).json["id"]
        hook = stack.webhook(alice, "bulk", target.url)
        stack.webhook(alice, "live", target.url)
        _seed_failed(stack, hook["id"], account, count)
        commits: list[float] = []
        listener = lambda *_: commits.append(time.monotonic())  # noqa: E731
        event.listen(engine, "commit", listener)
        answer: dict[str, Any] = {}

        def replay() -> None:
            started = time.monotonic()
            answer["result"] = stack.api.call(
                "POST",
                f"/api/v1/webhooks/{hook['id']}/replay",
                alice,
                json={"since": "2000-01-01T00:00:00Z"},
            )
            answer["seconds"] = time.monotonic() - started

        worker = threading.Thread(target=replay)
        try:
            worker.start()
            accepted, latencies = 0, []
            while worker.is_alive() or accepted < 3:
                sent = time.monotonic()
                stack.send(RAW, "live")  # asserts 250
                latencies.append(time.monotonic() - sent)
                accepted += 1
            worker.join(timeout=120)
        finally:
            event.remove(engine, "commit", listener)
        result = answer["result"]
        assert result.status_code == 202, result.json
        assert result.json == {"replayed": count}
        assert len(commits) >= count // 500  # one short transaction per batch of 500
        print(  # the figure the closing note quotes
            f"\n{engine.dialect.name}: replayed {count} in {answer['seconds']:.2f} s "
            f"({len(commits)} commits); {accepted} SMTP messages accepted meanwhile, "
            f"median {sorted(latencies)[len(latencies) // 2] * 1000:.0f} ms, "
            f"slowest {max(latencies) * 1000:.0f} ms"
        )
        with stack.container.uow() as uow:
            assert uow.jobs.pending() == count + accepted
