"""Configuration from `HOOKMAIL_*` environment variables (SPEC §2).

A bad value raises SettingsError whose message is one line naming the variable.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Mapping
from typing import TypeVar
from urllib.parse import urlsplit

from attrs import field, frozen
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from hookmail.core.services.delivery import DEFAULT_RETRY_SCHEDULE

PREFIX = "HOOKMAIL_"
T = TypeVar("T")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class SettingsError(Exception):
    """A configuration value is missing or malformed; the message names the variable."""


def _boolean(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError("expected true or false")


def _whole(raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise ValueError("expected a whole number") from None


def _port(raw: str) -> int:
    port = _whole(raw)
    if not 0 <= port <= 65535:
        raise ValueError("expected a port number 0-65535")
    return port


def _positive_int(raw: str) -> int:
    value = _whole(raw)
    if value < 1:
        raise ValueError("expected a positive whole number")
    return value


def _positive_float(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ValueError("expected a number of seconds") from None
    if not value > 0:
        raise ValueError("expected a positive number of seconds")
    return value


def _items(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def _networks(raw: str) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(part, strict=False) for part in _items(raw))


def _nameservers(raw: str) -> tuple[tuple[str, int], ...]:
    servers = []
    for item in _items(raw):
        host, port = item, 53
        if item.startswith("["):  # [v6]:port
            host, _, rest = item[1:].partition("]")
            port = _port(rest.lstrip(":")) if rest else 53
        elif item.count(":") == 1:
            host, _, port_text = item.partition(":")
            port = _port(port_text)
        servers.append((str(ipaddress.ip_address(host)), port))
    return tuple(servers)


def _schedule(raw: str) -> tuple[int, ...]:
    delays = tuple(_whole(part) for part in _items(raw))
    if not delays or any(d < 0 for d in delays):
        raise ValueError("expected a comma list of non-negative seconds")
    return delays


def _relay(raw: str) -> str:
    if raw == "log":
        return raw
    parts = urlsplit(raw)
    if parts.scheme != "smtp" or not parts.hostname:
        raise ValueError("expected 'log' or smtp://host:port")
    return raw


def _http_url(raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ValueError("expected an absolute http(s) URL")
    return raw.rstrip("/")


def _auth_checks(raw: str) -> str:
    if raw not in {"policy", "always"}:
        raise ValueError("expected 'policy' or 'always'")
    return raw


def _database_url(raw: str) -> str:
    try:
        backend = make_url(raw).get_backend_name()
    except ArgumentError as exc:
        raise ValueError(str(exc)) from None
    if backend not in {"sqlite", "postgresql"}:
        raise ValueError("expected a sqlite:// or postgresql+psycopg:// URL")
    return raw


@frozen(kw_only=True)
class Settings:
    database_url: str = "sqlite:///hookmail.db"
    secret_key: str | None = field(default=None, repr=False)
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    api_workers: int = 2
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 2525
    smtp_hostname: str = field(factory=socket.getfqdn)
    smtp_auth_require_tls: bool = True
    smtp_auth_concurrency: int = 2  # password checks at once per SMTP worker (argon2: 64 MiB each)
    smtp_max_connections_per_ip: int = 20
    smtp_greeting_timeout: float = 30.0  # seconds from connecting to HELO/EHLO
    smtp_idle_timeout: float = 300.0  # seconds between commands (RFC 5321 §4.5.3.2)
    tls_cert: str | None = None
    tls_key: str | None = None
    public_domains: tuple[str, ...] = ()
    dns_nameservers: tuple[tuple[str, int], ...] = ()
    allow_private_targets: bool = False
    retry_schedule: tuple[int, ...] = DEFAULT_RETRY_SCHEDULE
    delivery_timeout: float = 10.0
    max_message_bytes: int = 26214400
    mail_relay: str = "log"
    public_url: str = "http://127.0.0.1:8000"
    trusted_proxies: tuple[Network, ...] = ()
    login_max_failures: int = 10
    login_window_seconds: int = 900
    signups_per_hour: int = 20
    reset_requests_per_hour: int = 20
    max_webhooks: int = 1000
    max_domains: int = 100
    max_policies: int = 100
    disable_after: int = 432000  # seconds a webhook may fail without a success (§6.3)
    sync_timeout: float = 30.0  # seconds an SMTP session waits for a sync webhook (§6.4)
    attachment_url_ttl: int = 604800
    retention_seconds: int = 2592000  # how long messages and logs are kept (§6.7)
    sweep_interval: float = 60.0  # seconds between retention sweeps
    auth_checks: str = "policy"

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        values: dict[str, object] = {}

        def read(name: str, parse: Callable[[str], T]) -> None:
            raw = environ.get(PREFIX + name)
            if raw is None or raw.strip() == "":
                return
            try:
                values[name.lower()] = parse(raw.strip())
            except ValueError as exc:
                raise SettingsError(f"{PREFIX}{name}={raw!r} is invalid: {exc}") from None

        read("DATABASE_URL", _database_url)
        read("SECRET_KEY", str)
        read("API_HOST", str)
        read("API_PORT", _port)
        read("API_WORKERS", _positive_int)
        read("SMTP_HOST", str)
        read("SMTP_PORT", _port)
        read("SMTP_HOSTNAME", str)
        read("SMTP_AUTH_REQUIRE_TLS", _boolean)
        read("SMTP_AUTH_CONCURRENCY", _positive_int)
        read("SMTP_MAX_CONNECTIONS_PER_IP", _positive_int)
        read("SMTP_GREETING_TIMEOUT", _positive_float)
        read("SMTP_IDLE_TIMEOUT", _positive_float)
        read("TLS_CERT", str)
        read("TLS_KEY", str)
        read("PUBLIC_DOMAINS", lambda raw: tuple(d.lower() for d in _items(raw)))
        read("DNS_NAMESERVERS", _nameservers)
        read("ALLOW_PRIVATE_TARGETS", _boolean)
        read("RETRY_SCHEDULE", _schedule)
        read("DELIVERY_TIMEOUT", _positive_float)
        read("MAX_MESSAGE_BYTES", _positive_int)
        read("MAIL_RELAY", _relay)
        read("PUBLIC_URL", _http_url)
        read("TRUSTED_PROXIES", _networks)
        read("LOGIN_MAX_FAILURES", _positive_int)
        read("LOGIN_WINDOW_SECONDS", _positive_int)
        read("SIGNUPS_PER_HOUR", _positive_int)
        read("RESET_REQUESTS_PER_HOUR", _positive_int)
        read("MAX_WEBHOOKS", _positive_int)
        read("MAX_DOMAINS", _positive_int)
        read("MAX_POLICIES", _positive_int)
        read("DISABLE_AFTER", _positive_int)
        read("SYNC_TIMEOUT", _positive_float)
        read("ATTACHMENT_URL_TTL", _positive_int)
        read("RETENTION_SECONDS", _positive_int)
        read("SWEEP_INTERVAL", _positive_float)
        read("AUTH_CHECKS", _auth_checks)
        settings = cls(**values)  # type: ignore[arg-type]  # names and types checked above
        if (settings.tls_cert is None) != (settings.tls_key is None):
            raise SettingsError(f"{PREFIX}TLS_CERT and {PREFIX}TLS_KEY must be set together")
        return settings
