"""The verifiers printed in docs/webhooks.md accept hookmail's signatures, refuse anything
else, and never raise on a malformed request."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from hookmail.core.signing import signature

DOC = Path(__file__).parents[2] / "docs" / "webhooks.md"
SECRET, OLD = "whsec_" + "c2VjcmV0LWtleS1ieXRlcy0xMjM0NTY3ODkwMTI=", "plain-secret-of-24-chars!"
BODY = b'{"subject": "hi"}'


def _block(language: str) -> str:
    code = re.search(rf"```{language}\n(.*?)```", DOC.read_text(), re.DOTALL)
    assert code is not None, f"docs/webhooks.md has a {language} example"
    return code.group(1)


def _verify() -> Any:
    scope: dict[str, Any] = {}
    exec(compile(_block("python"), str(DOC), "exec"), scope)  # noqa: S102 (our own docs)
    return scope["verify"]


def _headers(now: int) -> dict[str, str]:
    return {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(now),
        "webhook-signature": signature([SECRET, OLD], event_id="msg_1", timestamp=now, body=BODY),
    }


def test_the_documented_verifier_accepts_our_signature_and_nothing_else() -> None:
    verify = _verify()
    headers = _headers(int(time.time()))
    assert verify(SECRET, headers, BODY)
    assert verify(OLD, headers, BODY)  # the rotated-out secret, during its overlap
    assert verify(SECRET, {k.title(): v for k, v in headers.items()}, BODY)
    assert not verify(SECRET, headers, BODY + b" ")
    assert not verify("whsec_" + "b3RoZXI=", headers, BODY)
    stale = {**headers, "webhook-timestamp": str(int(time.time()) - 3600)}
    assert not verify(SECRET, stale, BODY)


@pytest.mark.parametrize(
    "change",
    [
        {"webhook-id": None},
        {"webhook-timestamp": None},
        {"webhook-signature": None},
        {"webhook-timestamp": "garbage"},
        {"webhook-timestamp": "1e9"},
        {"webhook-timestamp": "9" * 400},
        {"webhook-signature": "v1,é"},
        {"webhook-signature": "v1"},
    ],
)
def test_the_documented_verifier_refuses_malformed_requests_without_raising(
    change: dict[str, str | None],
) -> None:
    headers: dict[str, str] = _headers(int(time.time()))
    for name, value in change.items():
        if value is None:
            del headers[name]
        else:
            headers[name] = value
    assert _verify()(SECRET, headers, BODY) is False


def test_the_documented_verifier_refuses_a_secret_that_is_not_base64() -> None:
    assert _verify()("whsec_abc", _headers(int(time.time())), BODY) is False


_NODE_CASES = """
const cases = JSON.parse(process.argv[1]);
const body = Buffer.from(cases.body);
const results = cases.requests.map(([secret, headers]) => verify(secret, headers, body));
console.log(JSON.stringify(results));
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_documented_node_verifier_agrees() -> None:
    now = int(time.time())
    good = _headers(now)
    requests = [
        [SECRET, good],
        [OLD, good],
        ["whsec_" + "b3RoZXI=", good],
        [SECRET, {**good, "webhook-timestamp": str(now - 3600)}],
        [SECRET, {**good, "webhook-timestamp": "garbage"}],
        [SECRET, {k: v for k, v in good.items() if k != "webhook-signature"}],
    ]
    script = _block("js") + _NODE_CASES
    cases = json.dumps({"body": BODY.decode(), "requests": requests})
    result = subprocess.run(
        ["node", "-e", script, cases], capture_output=True, text=True, timeout=30, check=True
    )
    assert json.loads(result.stdout) == [True, True, False, False, False, False]
