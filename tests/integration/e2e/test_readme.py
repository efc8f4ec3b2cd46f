"""The README's five-minute walkthrough works as pasted, against `hookmail serve`."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.integration.mail.conftest import free_port
from tests.receiver import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.integration]
ROOT = Path(__file__).parents[3]


def _walkthrough() -> str:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Five minutes with curl", 1)[1]
    found = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert found, "the README has a walkthrough"
    return found.group(1)


@pytest.mark.skipif(shutil.which("curl") is None, reason="the walkthrough uses curl")
def test_the_readme_walkthrough_works_as_pasted(tmp_path: Path) -> None:
    api_port = free_port()
    env = {
        **os.environ,
        "HOOKMAIL_DATABASE_URL": f"sqlite:///{tmp_path / 'h.db'}",
        "HOOKMAIL_API_PORT": str(api_port),
        "HOOKMAIL_SMTP_PORT": str(free_port()),
        "HOOKMAIL_API_WORKERS": "1",
    }
    serve = subprocess.Popen(
        [sys.executable, "-m", "hookmail.entrypoints.cli", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:

        def ready() -> bool:
            try:
                return requests.get(f"http://127.0.0.1:{api_port}/readyz", timeout=1).ok
            except requests.RequestException:  # refused, or a worker still booting
                return False

        wait_for(ready, timeout=30, what="the API")
        script = _walkthrough().replace("127.0.0.1:8000", f"127.0.0.1:{api_port}")
        venv_python = Path(sys.executable)
        script = script.replace(".venv/bin/python", str(venv_python))
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(timeout=60)
    assert result.returncode == 0, result.stderr
    assert '"email": "you@example.com"' in result.stdout
    assert '"backup_codes"' in result.stdout
    assert '"totp_required": true' in result.stdout
