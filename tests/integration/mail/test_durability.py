"""Nothing accepted is lost: SIGKILL the SMTP and delivery workers right after the last 250,
restart them, and every message is delivered (at least once, with a stable webhook-id)."""

from __future__ import annotations

import json
import os
import signal
import smtplib
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from dependency_injector import providers

from hookmail.adapters.sql.engine import make_engine, migrate
from hookmail.core.services.webhooks import WebhookInput
from hookmail.entrypoints.container import Container
from hookmail.entrypoints.settings import Settings
from tests.integration.mail.conftest import free_port
from tests.receiver import receiver, wait_for
from tests.seed import PUBLIC, public_webhooks, wait_smtp

pytestmark = [pytest.mark.e2e, pytest.mark.integration]
COUNT = 200


def _spawn(command: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "hookmail.entrypoints.cli", command],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def test_sigkill_after_the_last_250_loses_nothing(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'hookmail.db'}"
    migrate(make_engine(database))
    port = free_port()
    with receiver() as target:
        uow = Container(
            settings=providers.Object(Settings(database_url=database, smtp_hostname="mx.test"))
        ).uow
        # one webhook, distinct recipients through +tags (no catch-all on a public domain)
        public_webhooks(uow, WebhookInput(address=f"u@{PUBLIC}", target_url=target.url))
        target.plan = [(200, {}, 0.5)] * COUNT  # a slow target: much mail is queued or in flight
        env = {
            **os.environ,
            "HOOKMAIL_DATABASE_URL": database,
            "HOOKMAIL_SMTP_PORT": str(port),
            "HOOKMAIL_SMTP_AUTH_REQUIRE_TLS": "false",
            "HOOKMAIL_ALLOW_PRIVATE_TARGETS": "true",
            "HOOKMAIL_PUBLIC_DOMAINS": PUBLIC,
            "HOOKMAIL_DELIVERY_TIMEOUT": "2",
            "HOOKMAIL_RETRY_SCHEDULE": "0,0,0,0,0",
        }
        log = tmp_path / "workers.log"
        smtp, deliver = _spawn("smtp", env, log), _spawn("deliver", env, log)
        try:
            wait_smtp(port)
            with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
                for n in range(COUNT):
                    message = f"From: a@example.org\r\nSubject: mail {n}\r\n\r\nbody {n}\r\n"
                    assert client.sendmail("a@example.org", [f"u+{n}@{PUBLIC}"], message) == {}
            smtp.send_signal(signal.SIGKILL)
            deliver.send_signal(signal.SIGKILL)
            smtp.wait(timeout=10)
            deliver.wait(timeout=10)
            before = len(target.received)
            target.plan = []
            smtp, deliver = _spawn("smtp", env, log), _spawn("deliver", env, log)

            def subjects() -> set[str]:
                return {json.loads(b)["subject"] for b in target.bodies()}

            wait_for(lambda: len(subjects()) == COUNT, timeout=90, what="all 200 delivered")
        finally:
            for process in (smtp, deliver):
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
                    process.wait(timeout=30)
    ids_by_subject: dict[str, set[str]] = {}
    for body in target.bodies():
        payload = json.loads(body)
        ids_by_subject.setdefault(payload["subject"], set()).add(payload["id"])
    assert subjects() == {f"mail {n}" for n in range(COUNT)}
    assert all(len(ids) == 1 for ids in ids_by_subject.values()), "a repeat kept its webhook-id"
    print(f"delivered before the kill: {before}; deliveries in all: {len(target.received)}")


def test_serve_stops_all_three_on_sigterm(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "HOOKMAIL_DATABASE_URL": f"sqlite:///{tmp_path / 'h.db'}",
        "HOOKMAIL_API_PORT": str(free_port()),
        "HOOKMAIL_SMTP_PORT": str(free_port()),
        "HOOKMAIL_API_WORKERS": "1",
    }
    serve = subprocess.Popen(
        [sys.executable, "-m", "hookmail.entrypoints.cli", "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    wait_smtp(int(env["HOOKMAIL_SMTP_PORT"]))
    serve.send_signal(signal.SIGTERM)
    output = serve.communicate(timeout=60)[0].decode()
    assert serve.returncode == 0, output
    assert "API   http://127.0.0.1:" in output
    assert "SMTP  127.0.0.1:" in output
    assert "delivery worker stopped" in output
    with pytest.raises(ConnectionRefusedError):
        smtplib.SMTP("127.0.0.1", int(env["HOOKMAIL_SMTP_PORT"]), timeout=2)


def test_serve_stops_when_a_worker_cannot_start(tmp_path: Path) -> None:
    with socket.socket() as taken:  # the SMTP port is busy: the SMTP worker dies at once
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        env = {
            **os.environ,
            "HOOKMAIL_DATABASE_URL": f"sqlite:///{tmp_path / 'h.db'}",
            "HOOKMAIL_API_PORT": str(free_port()),
            "HOOKMAIL_SMTP_PORT": str(taken.getsockname()[1]),
            "HOOKMAIL_API_WORKERS": "1",
        }
        serve = subprocess.Popen(
            [sys.executable, "-m", "hookmail.entrypoints.cli", "serve"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        output = serve.communicate(timeout=60)[0].decode()
    assert "exited with status" in output
