"""`import hookmail.webhooks` (and `import hookmail`) load nothing but the standard library:
a receiver can verify our webhooks without falcon, sqlalchemy, aiosmtpd, attrs, ..."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

_PROBE = """
import json, sys
before = set(sys.modules)
import {module}
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def _loaded_by(module: str) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", _PROBE.format(module=module)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return list(json.loads(result.stdout))


@pytest.mark.parametrize("module", ["hookmail.webhooks", "hookmail"])
def test_importing_loads_only_the_standard_library(module: str) -> None:
    loaded = _loaded_by(module)
    foreign = [
        name
        for name in loaded
        if name.partition(".")[0] not in sys.stdlib_module_names
        and name.partition(".")[0] != "hookmail"
    ]
    assert foreign == []
    assert module in loaded  # the probe did import it


def test_the_probe_would_see_a_third_party_import() -> None:
    assert "attrs" in _loaded_by("hookmail.core.mail")
