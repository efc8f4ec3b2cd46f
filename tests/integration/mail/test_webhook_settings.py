"""Target URLs and custom headers as they are sent: a non-ASCII URL goes out IDNA- and
percent-encoded, and a header value that HTTP can't carry is a logged failed attempt, never a
codec error."""

from __future__ import annotations

from uuid import UUID

import pytest
from attrs import evolve

from hookmail.adapters.http import PinnedHttpTransport
from tests.integration.mail.conftest import Pipeline
from tests.receiver import receiver, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


def test_an_international_host_is_resolved_and_sent_as_its_a_label() -> None:
    asked: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        asked.append(host)
        return ["127.0.0.1"]

    with receiver() as target:
        http = PinnedHttpTransport(allow_private=True, resolve=resolve)
        outcome = http.post(
            f"http://bücher.example:{target.port}/pfad/ä?q=ü&r=%20",
            headers={"X-Team": "café"},
            body=b"{}",
            timeout=2,
        )
        http.close()
    assert outcome.http_status == 200
    assert asked == ["xn--bcher-kva.example"]
    (received,) = target.received
    assert received.path == "/pfad/%C3%A4?q=%C3%BC&r=%20"
    assert received.headers["Host"] == f"xn--bcher-kva.example:{target.port}"
    assert received.headers["X-Team"].encode("latin-1") == "café".encode("latin-1")


def test_an_unencodable_host_or_header_is_an_outcome_not_an_exception() -> None:
    http = PinnedHttpTransport(allow_private=True, resolve=lambda host, port: ["127.0.0.1"])
    bad_host = http.post("http://a\u0301\u200d-.example/", headers={}, body=b"", timeout=1)
    assert (bad_host.http_status, bad_host.permanent) == (0, True)
    assert "IDNA" in (bad_host.error or "")
    bad_header = http.post("http://127.0.0.1:9/", headers={"X-Price": "5 €"}, body=b"", timeout=1)
    assert bad_header.http_status == 0
    assert "'X-Price' can't be sent" in (bad_header.error or "")


def test_a_non_ascii_target_path_is_delivered_percent_encoded(pipeline: Pipeline) -> None:
    pipeline.sign_up()
    pipeline.domain()
    hook = pipeline.webhook(target_url=pipeline.target.url + "/café?tag=ü")
    assert hook["target_url"] == pipeline.target.url + "/café?tag=ü"  # kept as given
    assert pipeline.send(b"Subject: s\r\n\r\nbody\r\n") == {}
    wait_for(lambda: len(pipeline.target.received) == 1, what="the delivery")
    assert pipeline.target.received[0].path == "/hook/caf%C3%A9?tag=%C3%BC"


def test_a_stored_header_value_http_cannot_carry_is_a_logged_failed_attempt(
    pipeline: Pipeline,
) -> None:
    pipeline.sign_up()
    pipeline.domain()
    hook = pipeline.webhook()
    with pipeline.container.uow() as uow:  # as saved before values had to be Latin-1
        webhook = uow.webhooks.get(UUID(hook["id"]))
        assert webhook is not None
        uow.webhooks.save(evolve(webhook, custom_headers={"X-Mood": "🙂"}))
        uow.commit()
    assert pipeline.send(b"Subject: s\r\n\r\nbody\r\n") == {}
    wait_for(lambda: len(pipeline.logs(hook["id"])) >= 1, what="a logged attempt")
    log = pipeline.logs(hook["id"])[-1]
    assert log["http_status"] == 0
    assert "'X-Mood' can't be sent" in log["error"]
    assert pipeline.target.received == []
