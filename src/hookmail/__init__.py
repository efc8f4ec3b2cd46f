"""hookmail: inbound email to signed webhooks.

`import hookmail` loads nothing else: the names below are imported on first use, so that
`hookmail.webhooks` (for the apps that receive our webhooks) stays standard library only.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from hookmail._version import __version__

__all__ = [
    "Hookmail",
    "Receipt",
    "Sent",
    "WebhookVerificationError",
    "__version__",
    "sign",
    "signed_request",
    "verify",
]

_LAZY = {
    "Hookmail": "hookmail.library",
    "Receipt": "hookmail.library",
    "Sent": "hookmail.library",
    "WebhookVerificationError": "hookmail.webhooks",
    "sign": "hookmail.webhooks",
    "signed_request": "hookmail.webhooks",
    "verify": "hookmail.webhooks",
}

if TYPE_CHECKING:
    from hookmail.library import Hookmail, Receipt, Sent
    from hookmail.webhooks import WebhookVerificationError, sign, signed_request, verify


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'hookmail' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
