"""Password-reset request timing for a known and an unknown address (SPEC §3: the same).

Starts `hookmail api` (gunicorn, one worker) on a fresh SQLite file, signs up one account,
then times N `POST /accounts/password-reset` for the known address and N for an unknown
one, interleaved in random order over one keep-alive connection, and prints mean, standard
deviation and median of each. `--pause` waits between requests (the reset mail is sent in
the background: with a pause it is done before the next request; without, it competes).
All traffic stays on 127.0.0.1. `--src DIR` runs the server from another checkout's `src`
(to compare with an older tree).
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _serve(folder: Path, port: int, src: str | None) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "HOOKMAIL_DATABASE_URL": f"sqlite:///{folder / 'reset.db'}",
        "HOOKMAIL_API_PORT": str(port),
        "HOOKMAIL_SECRET_KEY": "reset-timing-key-" * 4,
        "HOOKMAIL_RESET_REQUESTS_PER_HOUR": "1000000",
        "HOOKMAIL_SIGNUPS_PER_HOUR": "1000000",
    }
    if src:
        env["PYTHONPATH"] = src
    command = [sys.executable, "-m", "hookmail.entrypoints.cli"]
    subprocess.run([*command, "migrate"], env=env, cwd=folder, check=True, capture_output=True)
    log = (folder / "api.log").open("ab")
    return subprocess.Popen(
        [*command, "api", "--workers", "1"], env=env, cwd=folder, stdout=log, stderr=log
    )


def _ready(base: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{base}/readyz", timeout=1).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):
            pass
        time.sleep(0.1)
    raise SystemExit("the API did not start")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=200, help="requests per address")
    parser.add_argument("--pause", type=float, default=0.02, help="seconds between requests")
    parser.add_argument("--src", help="a checkout's src folder to serve from")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="hookmail-reset-"))
    port = _free_port()
    base = f"http://127.0.0.1:{port}/api/v1"
    server = _serve(folder, port, args.src)
    try:
        _ready(f"http://127.0.0.1:{port}", time.monotonic() + 60)
        session = requests.Session()
        account = {"email": "alice@example.com", "password": "correct horse battery"}
        assert session.post(f"{base}/accounts", json=account, timeout=10).status_code == 201
        order = ["known"] * args.n + ["unknown"] * args.n
        random.Random(10).shuffle(order)  # noqa: S311 (an order, not a secret)
        emails = {"known": "alice@example.com", "unknown": "nobody@example.com"}
        for _ in range(20):  # warm up both paths
            for kind in emails:
                session.post(f"{base}/accounts/password-reset", json={"email": emails[kind]})
        times: dict[str, list[float]] = {"known": [], "unknown": []}
        for kind in order:
            time.sleep(args.pause)
            started = time.perf_counter()
            answer = session.post(
                f"{base}/accounts/password-reset", json={"email": emails[kind]}, timeout=10
            )
            times[kind].append((time.perf_counter() - started) * 1000)
            assert answer.status_code == 202, answer.text
        print(f"n={args.n} per address, pause {args.pause * 1000:.0f} ms, ms per request:")
        for kind, values in times.items():
            print(
                f"  {kind:8} mean {statistics.mean(values):.3f}  "
                f"stdev {statistics.stdev(values):.3f}  median {statistics.median(values):.3f}"
            )
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
