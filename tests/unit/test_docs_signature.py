"""The Python verifier printed in docs/webhooks.md accepts hookmail's signatures."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from hookmail.core.signing import signature

DOC = Path(__file__).parents[2] / "docs" / "webhooks.md"


def _verify() -> Any:
    code = re.search(r"```python\n(.*?)```", DOC.read_text(), re.DOTALL)
    assert code is not None, "docs/webhooks.md has a Python example"
    scope: dict[str, Any] = {}
    exec(compile(code.group(1), str(DOC), "exec"), scope)  # noqa: S102 (our own docs)
    return scope["verify"]


def test_the_documented_verifier_accepts_our_signature_and_nothing_else() -> None:
    verify = _verify()
    secret, old = "whsec_" + "c2VjcmV0LWtleS1ieXRlcy0xMjM0NTY3ODkwMTI=", "plain-secret-of-24-chars!"
    body = b'{"subject": "hi"}'
    now = int(time.time())
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(now),
        "webhook-signature": signature([secret, old], event_id="msg_1", timestamp=now, body=body),
    }
    assert verify(secret, headers, body)
    assert verify(old, headers, body)  # the rotated-out secret, during its overlap
    assert not verify(secret, headers, body + b" ")
    assert not verify("whsec_" + "b3RoZXI=", headers, body)
    stale = {**headers, "webhook-timestamp": str(now - 3600)}
    assert not verify(secret, stale, body)
