"""hookmail: inbound email to signed webhooks.

`import hookmail` loads nothing else: the names below are imported on first use, so that
`hookmail.webhooks` (for the apps that receive our webhooks) stays standard library only.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "WebhookVerificationError",
    "__version__",
    "sign",
    "signed_request",
    "verify",
]

_LAZY = {
    "WebhookVerificationError": "hookmail.webhooks",
    "sign": "hookmail.webhooks",
    "signed_request": "hookmail.webhooks",
    "verify": "hookmail.webhooks",
}

if TYPE_CHECKING:
    from hookmail.webhooks import WebhookVerificationError, sign, signed_request, verify


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'hookmail' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
