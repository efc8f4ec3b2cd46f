"""The real thing: `hookmail` under gunicorn with two workers, over a socket."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

HOOKMAIL = [sys.executable, "-m", "hookmail.entrypoints.cli"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_ready(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, "the server exited early"
        try:
            if requests.get(f"{base}/readyz", timeout=1).status_code == 200:
                return
        except requests.RequestException:  # refused, or a worker still booting
            pass
        time.sleep(0.1)  # polling a starting server, not pacing the test
    raise AssertionError("the server did not become ready within 30 s")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    env = {
        **os.environ,
        "HOOKMAIL_DATABASE_URL": f"sqlite:///{tmp_path / 'hookmail.db'}",
        "HOOKMAIL_API_PORT": str(port),
        "HOOKMAIL_API_WORKERS": "2",
    }
    env.pop("HOOKMAIL_SECRET_KEY", None)
    process = subprocess.Popen(
        [*HOOKMAIL, "serve"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, process)
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def test_two_workers_share_the_store_and_the_signing_key(served: str) -> None:
    account = {"email": "alice@example.com", "password": "correct horse battery"}
    assert requests.post(f"{served}/api/v1/accounts", json=account, timeout=10).status_code == 201
    session = requests.post(f"{served}/api/v1/sessions", json=account, timeout=10).json()
    headers = {"Authorization": f"Bearer {session['access_token']}"}
    # Separate connections, so both workers answer; a key per worker would fail about half.
    statuses = [
        requests.get(f"{served}/api/v1/accounts/me", headers=headers, timeout=10).status_code
        for _ in range(12)
    ]
    assert statuses == [200] * 12


def test_a_bad_setting_stops_start_up_with_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "HOOKMAIL_API_PORT": "eighty"}
    result = subprocess.run(
        [*HOOKMAIL, "api"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "hookmail: HOOKMAIL_API_PORT='eighty' is invalid: expected a whole number"
    ]


def test_a_dashboard_session_holds_across_workers_and_ends_for_all(served: str) -> None:
    client = requests.Session()
    account = {"email": "dash@example.com", "password": "correct horse battery"}
    page = client.get(f"{served}/signup", timeout=10).text
    token = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
    assert token
    client.post(f"{served}/signup", data={**account, "csrf": token.group(1)}, timeout=10)
    client.post(f"{served}/signin", data={**account, "csrf": token.group(1)}, timeout=10)
    cookies = {"hookmail_session": client.cookies["hookmail_session"]}
    # Separate connections, so both workers answer: a session kept in one would fail half.
    statuses = [
        requests.get(f"{served}/account", cookies=cookies, allow_redirects=False, timeout=10)
        for _ in range(12)
    ]
    assert [s.status_code for s in statuses] == [200] * 12
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', statuses[0].text)
    assert csrf
    requests.post(f"{served}/signout", data={"csrf": csrf.group(1)}, cookies=cookies, timeout=10)
    after = [
        requests.get(f"{served}/account", cookies=cookies, allow_redirects=False, timeout=10)
        for _ in range(6)
    ]
    assert [s.status_code for s in after] == [303] * 6
