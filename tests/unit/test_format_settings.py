"""HOOKMAIL_AUTH_CHECKS and HOOKMAIL_ATTACHMENT_URL_TTL (SPEC §2)."""

from __future__ import annotations

import pytest

from hookmail.entrypoints.settings import Settings, SettingsError


def test_defaults_follow_the_spec() -> None:
    settings = Settings.from_env({})
    assert settings.auth_checks == "policy"
    assert settings.attachment_url_ttl == 604800


def test_values_are_read() -> None:
    settings = Settings.from_env(
        {"HOOKMAIL_AUTH_CHECKS": "always", "HOOKMAIL_ATTACHMENT_URL_TTL": "3600"}
    )
    assert (settings.auth_checks, settings.attachment_url_ttl) == ("always", 3600)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("AUTH_CHECKS", "sometimes"),
        ("AUTH_CHECKS", "ALWAYS "),
        ("ATTACHMENT_URL_TTL", "0"),
        ("ATTACHMENT_URL_TTL", "a week"),
    ],
)
def test_a_bad_value_names_its_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({f"HOOKMAIL_{name}": value})
    assert str(raised.value).startswith(f"HOOKMAIL_{name}=")
