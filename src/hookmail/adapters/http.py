"""Webhook POSTs over http.client, to the address the SSRF guard checked.

Why not requests: pinning the connection to a checked IP while keeping the URL's host for
TLS (SNI and certificate) and the Host header takes urllib3 internals there, and neither
bounds a whole attempt (only each read). Here a connection is opened to the checked IP and
wrapped with the URL's host name; a watchdog shuts the socket when the attempt's deadline
passes, so a server that drips bytes can't hold a worker; keep-alive connections are pooled
per (scheme, address, port, host).
"""

from __future__ import annotations

import contextlib
import heapq
import http.client
import socket
import ssl
import threading
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

from hookmail.core.errors import InvalidField
from hookmail.core.ports import HttpOutcome
from hookmail.core.targets import forbidden_reason
from hookmail.core.webhooks import ascii_url

MAX_RESPONSE = 64 * 1024
_PoolKey = tuple[str, str, int, str]


def system_resolve(host: str, port: int) -> list[str]:
    """Every address of `host`, in the order the system gives them."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class _PinnedHttps(http.client.HTTPSConnection):
    """HTTPS to a fixed address, with SNI and certificate checks for the URL's host."""

    def __init__(
        self,
        address: str,
        port: int,
        *,
        server_hostname: str,
        timeout: float,
        context: ssl.SSLContext,
    ) -> None:
        super().__init__(address, port, timeout=timeout, context=context)
        self._server_hostname = server_hostname
        self._tls = context

    def connect(self) -> None:
        raw = socket.create_connection((self.host, self.port), self.timeout)
        self.sock = self._tls.wrap_socket(raw, server_hostname=self._server_hostname)


class _Deadline:
    __slots__ = ("cancelled", "connection", "when")

    def __init__(self, when: float, connection: http.client.HTTPConnection) -> None:
        self.when = when
        self.connection = connection
        self.cancelled = False

    def __lt__(self, other: _Deadline) -> bool:
        return self.when < other.when


class _Watchdog:
    """One thread for every attempt in flight: when an attempt's deadline passes, it shuts
    that attempt's socket, which ends any read or write blocked on it."""

    def __init__(self) -> None:
        self._heap: list[_Deadline] = []
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def arm(self, when: float, connection: http.client.HTTPConnection) -> _Deadline:
        deadline = _Deadline(when, connection)
        with self._wake:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="hookmail-watchdog", daemon=True
                )
                self._thread.start()
            heapq.heappush(self._heap, deadline)
            if self._heap[0] is deadline:
                self._wake.notify()
        return deadline

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._heap:
                    self._wake.wait()
                first = self._heap[0]
                if first.cancelled:
                    heapq.heappop(self._heap)
                    continue
                remaining = first.when - time.monotonic()
                if remaining > 0:
                    self._wake.wait(remaining)
                    continue
                heapq.heappop(self._heap)
            _cut(first.connection)


def _cut(connection: http.client.HTTPConnection) -> None:
    sock = connection.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _retry_after(value: str | None) -> int | None:
    if not value:
        return None
    if value.strip().isdigit():
        return int(value.strip())
    try:
        return max(0, int(parsedate_to_datetime(value).timestamp() - time.time()))
    except (TypeError, ValueError, IndexError):
        return None


def _unsendable_header(headers: dict[str, str]) -> str | None:
    """Why http.client could not send these headers (it encodes values as Latin-1), or None."""
    for name, value in headers.items():
        try:
            name.encode("ascii")
            value.encode("latin-1")
        except UnicodeEncodeError:
            return f"the header {name!r} can't be sent: HTTP header values must be Latin-1 text"
        if "\r" in value or "\n" in value:
            return f"the header {name!r} can't be sent: its value holds a line break"
    return None


class PinnedHttpTransport:
    def __init__(
        self,
        *,
        allow_private: bool = False,
        resolve: Callable[[str, int], list[str]] = system_resolve,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self._allow_private = allow_private
        self._resolve = resolve
        self._tls = tls or ssl.create_default_context()
        self._idle: dict[_PoolKey, list[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()
        self._watchdog = _Watchdog()

    def _address(self, host: str, port: int) -> tuple[str | None, str | None]:
        """(the address to connect to, or None with the reason)."""
        try:
            addresses = self._resolve(host, port)
        except OSError as exc:
            return None, f"could not resolve {host}: {exc}"
        reasons = []
        for address in addresses:
            reason = forbidden_reason(address)
            if reason is None or self._allow_private:
                return address, None
            reasons.append(reason)
        return None, "target refused: " + ("; ".join(reasons) or f"{host} has no address")

    def _connection(self, key: _PoolKey, timeout: float) -> http.client.HTTPConnection:
        with self._lock:
            idle = self._idle.get(key)
            if idle:
                connection = idle.pop()
                connection.timeout = timeout
                if connection.sock is not None:
                    connection.sock.settimeout(timeout)
                return connection
        scheme, address, port, host = key
        if scheme == "https":
            return _PinnedHttps(
                address, port, server_hostname=host, timeout=timeout, context=self._tls
            )
        return http.client.HTTPConnection(address, port, timeout=timeout)

    def _release(self, key: _PoolKey, connection: http.client.HTTPConnection) -> None:
        with self._lock:
            self._idle.setdefault(key, []).append(connection)

    def post(
        self, url: str, *, headers: dict[str, str], body: bytes, timeout: float
    ) -> HttpOutcome:
        deadline = time.monotonic() + timeout
        try:  # a URL saved before it had to be encodable, or headers before they had to be Latin-1
            url = ascii_url(url)
        except InvalidField as exc:
            return HttpOutcome(0, str(exc), permanent=True)
        unsendable = _unsendable_header(headers)
        if unsendable is not None:
            return HttpOutcome(0, unsendable)
        parts = urlsplit(url)
        host = parts.hostname or ""
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            return HttpOutcome(0, "the target URL has an invalid port", permanent=True)
        address, refusal = self._address(host, port)
        if address is None:
            return HttpOutcome(
                0, refusal, permanent=refusal is not None and refusal.startswith("target refused")
            )
        key = (parts.scheme, address, port, host)
        remaining = max(0.001, deadline - time.monotonic())
        connection = self._connection(key, remaining)
        watchdog = self._watchdog.arm(deadline, connection)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        host_header = parts.netloc.rpartition("@")[2]
        try:
            connection.request("POST", path, body=body, headers={**headers, "Host": host_header})
            response = connection.getresponse()
            response.read(MAX_RESPONSE)
            drained = response.isclosed()
            status = response.status
            retry_after = _retry_after(response.getheader("Retry-After"))
            reusable = drained and not response.will_close
        except (OSError, http.client.HTTPException, ValueError) as exc:
            connection.close()
            if time.monotonic() >= deadline:
                return HttpOutcome(0, f"timed out after {timeout:g} s")
            return HttpOutcome(0, f"connection failed: {exc or type(exc).__name__}")
        finally:
            watchdog.cancelled = True
        if reusable and time.monotonic() < deadline:
            self._release(key, connection)
        else:
            connection.close()
        return HttpOutcome(status, retry_after=retry_after)

    def close(self) -> None:
        with self._lock:
            pools, self._idle = self._idle, {}
        for idle in pools.values():
            for connection in idle:
                connection.close()
