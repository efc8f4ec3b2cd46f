"""Mustache payload templates: `{{var}}` escaped for a JSON string, `{{{var}}}` raw.

chevron has no escape hook, and its HTML escaper is a module global looked up on every
render; we swap in a JSON-string escaper for the duration of our render, under a lock, and
put the original back, so chevron behaves as usual for anyone else in the process.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import chevron
import chevron.renderer

_lock = threading.Lock()


def _json_string_escape(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)[1:-1]


def render(template: str, data: dict[str, Any]) -> str:
    with _lock:
        original = chevron.renderer._html_escape  # type: ignore[attr-defined]
        chevron.renderer._html_escape = _json_string_escape  # type: ignore[attr-defined]
        try:
            return str(chevron.render(template, data))
        finally:
            chevron.renderer._html_escape = original  # type: ignore[attr-defined]
