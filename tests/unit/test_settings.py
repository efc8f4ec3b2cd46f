from __future__ import annotations

import ipaddress

import pytest

from hookmail.entrypoints.settings import Settings, SettingsError


def test_defaults_follow_the_spec() -> None:
    settings = Settings.from_env({})
    assert settings.database_url == "sqlite:///hookmail.db"
    assert (settings.api_host, settings.api_port) == ("127.0.0.1", 8000)
    assert (settings.smtp_host, settings.smtp_port) == ("127.0.0.1", 2525)
    assert settings.smtp_auth_require_tls is True
    assert settings.retry_schedule == (5, 300, 1800, 7200, 18000, 36000, 36000)
    assert settings.delivery_timeout == 10
    assert settings.max_message_bytes == 26214400
    assert settings.mail_relay == "log"
    assert settings.public_url == "http://127.0.0.1:8000"
    assert settings.trusted_proxies == ()


def test_values_are_parsed() -> None:
    settings = Settings.from_env(
        {
            "HOOKMAIL_DATABASE_URL": "postgresql+psycopg://u@db/hookmail",
            "HOOKMAIL_PUBLIC_DOMAINS": "Inbound.Example.com, mail.example.org",
            "HOOKMAIL_DNS_NAMESERVERS": "127.0.0.1:5353,::1,[::1]:53",
            "HOOKMAIL_ALLOW_PRIVATE_TARGETS": "true",
            "HOOKMAIL_RETRY_SCHEDULE": "1,2,3",
            "HOOKMAIL_TRUSTED_PROXIES": "10.0.0.0/8,::1",
            "HOOKMAIL_MAIL_RELAY": "smtp://127.0.0.1:2526",
            "HOOKMAIL_PUBLIC_URL": "https://hookmail.example.com/",
        }
    )
    assert settings.public_domains == ("inbound.example.com", "mail.example.org")
    assert settings.dns_nameservers == (("127.0.0.1", 5353), ("::1", 53), ("::1", 53))
    assert settings.allow_private_targets is True
    assert settings.retry_schedule == (1, 2, 3)
    assert ipaddress.ip_address("10.1.2.3") in settings.trusted_proxies[0]
    assert settings.public_url == "https://hookmail.example.com"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("API_PORT", "eighty"),
        ("API_PORT", "70000"),
        ("SMTP_AUTH_REQUIRE_TLS", "maybe"),
        ("DNS_NAMESERVERS", "dns.example.com"),
        ("RETRY_SCHEDULE", "5,-1"),
        ("DELIVERY_TIMEOUT", "0"),
        ("MAIL_RELAY", "http://relay"),
        ("PUBLIC_URL", "hookmail.example.com"),
        ("TRUSTED_PROXIES", "10.0.0.0/33"),
        ("DATABASE_URL", "mysql://x"),
        ("DATABASE_URL", "not a url"),
    ],
)
def test_a_bad_value_names_its_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({f"HOOKMAIL_{name}": value})
    message = str(raised.value)
    assert message.startswith(f"HOOKMAIL_{name}=")
    assert "\n" not in message


def test_a_certificate_needs_its_key() -> None:
    with pytest.raises(SettingsError, match="TLS_CERT and HOOKMAIL_TLS_KEY"):
        Settings.from_env({"HOOKMAIL_TLS_CERT": "/etc/cert.pem"})
