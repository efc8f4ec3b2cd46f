"""Webhook POSTs: an asyncio HTTP/1.1 client, connected to the address the SSRF guard checked.

Why this client: the delivery worker keeps many attempts in flight. On threads (one blocking
`http.client` call each) the threads' fight for the GIL cost more CPU than the POSTs did
(docs/performance.md); one event loop serves every attempt in flight instead. The request is
a few lines of bytes; the answer is parsed by httptools (llhttp, Node.js's parser, in C), so
no HTTP parsing is written here. requests/urllib3 can't pin a connection to a checked IP and
keep the URL's host for TLS (SNI, certificate) and the Host header without their internals;
here the connection is opened to the checked IP with `server_hostname` set to the URL's host.

Every attempt is bounded as a whole (resolve, connect, send, answer) by `asyncio.timeout`, so
a target that drips bytes can't hold anything; at most 64 KiB of an answer is read. Keep-alive
connections are pooled per (event loop, scheme, address, port, host). A pooled connection the
target closed while it was idle is retried once on a new one.

`PinnedHttpTransport.post` is the same client for callers that aren't async (sync mode in the
SMTP worker, the library): it runs the coroutine on an event loop thread of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import cast
from urllib.parse import urlsplit

import httptools
import uvloop

from hookmail.core.errors import InvalidField
from hookmail.core.ports import HttpOutcome
from hookmail.core.targets import forbidden_reason
from hookmail.core.webhooks import ascii_url

MAX_RESPONSE = 64 * 1024
_CHUNK = 256 * 1024  # a big body is written in slices, waiting for the socket between them
_IDLE_PER_TARGET = 64  # pooled keep-alive connections kept per target at most
_PoolKey = tuple[asyncio.AbstractEventLoop, str, str, int, str]


def system_resolve(host: str, port: int) -> list[str]:
    """Every address of `host`, in the order the system gives them."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


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
    """Why these headers can't be sent (values are sent as Latin-1), or None."""
    for name, value in headers.items():
        try:
            name.encode("ascii")
            value.encode("latin-1")
        except UnicodeEncodeError:
            return f"the header {name!r} can't be sent: HTTP header values must be Latin-1 text"
        if "\r" in value or "\n" in value or "\r" in name or "\n" in name or ":" in name:
            return f"the header {name!r} can't be sent: its name or value holds a line break"
    return None


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class _Closed(Exception):
    """The connection ended before a whole answer came."""


class _Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection, one exchange at a time; httptools calls the
    on_* methods as it parses the answer."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self._parser = httptools.HttpResponseParser(self)
        self._answer: asyncio.Future[None] | None = None
        self._writable: asyncio.Future[None] | None = None
        self._paused = False
        self._status = 0
        self._received = 0
        self.heard = False  # any byte of this exchange's answer came
        self.complete = False  # the whole answer came (the connection can be reused)
        self.retry_after: str | None = None

    # -- asyncio.Protocol ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's: no subclass of it

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._writable is not None and not self._writable.done():
            self._writable.set_exception(_Closed(str(exc or "closed while sending")))
        if self._answer is not None and not self._answer.done():
            if self._status and self._status // 100 != 1:
                self._answer.set_result(None)  # an answer delimited by the close
            else:
                self._answer.set_exception(_Closed(str(exc or "closed before an answer")))

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)

    def data_received(self, data: bytes) -> None:
        self.heard = True
        if self._answer is None or self._answer.done():
            self.close()  # bytes nobody asked for: the connection is not usable
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._answer.set_exception(_Closed(f"invalid HTTP answer: {exc}"))
            self.close()

    # -- httptools callbacks -------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() == b"retry-after":
            self.retry_after = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        self._status = self._parser.get_status_code()

    def on_body(self, body: bytes) -> None:
        self._received += len(body)
        if self._received > MAX_RESPONSE and self._answer and not self._answer.done():
            self._answer.set_result(None)  # enough read: the status is what counts
            self.close()

    def on_message_complete(self) -> None:
        if self._status // 100 == 1:  # an interim answer (100 Continue): the real one follows
            self._status, self.retry_after = 0, None
            return
        self.complete = self._parser.should_keep_alive()
        if self._answer is not None and not self._answer.done():
            self._answer.set_result(None)

    # -- an exchange ---------------------------------------------------------------------

    async def exchange(self, head: bytes, body: bytes) -> int:
        """Send one request; the answer's status."""
        transport = self.transport
        if transport is None or self.closed:
            raise _Closed("closed while idle")
        loop = asyncio.get_running_loop()
        self._answer = loop.create_future()
        self._status = self._received = 0
        self.heard = self.complete = False
        self.retry_after = None
        if len(body) <= _CHUNK:
            transport.write(head + body)
        else:
            transport.write(head)
            view = memoryview(body)
            for start in range(0, len(view), _CHUNK):
                transport.write(view[start : start + _CHUNK])
                if self._paused:
                    self._writable = loop.create_future()
                    await self._writable
        await self._answer
        return self._status

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


def _request_head(path: str, host: str, headers: dict[str, str], length: int) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}"]
    lines += [f"{name}: {value}" for name, value in headers.items() if name.lower() != "host"]
    lines += [f"Content-Length: {length}", "", ""]
    return "\r\n".join(lines).encode("latin-1")


class PinnedHttpTransport:
    """The WebhookTransport port: `post_async` on the caller's event loop, `post` for
    callers without one."""

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
        self._idle: dict[_PoolKey, list[_Connection]] = {}
        self._own_loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    async def _address(self, host: str, port: int) -> tuple[str | None, str | None]:
        """(the address to connect to, or None with the reason)."""
        try:
            if _is_address(host):
                addresses = [host]  # what resolving an address gives: itself
            else:  # a name: the system's resolver blocks, so not on the loop
                loop = asyncio.get_running_loop()
                addresses = await loop.run_in_executor(None, self._resolve, host, port)
        except OSError as exc:
            return None, f"could not resolve {host}: {exc}"
        reasons = []
        for address in addresses:
            reason = forbidden_reason(address)
            if reason is None or self._allow_private:
                return address, None
            reasons.append(reason)
        return None, "target refused: " + ("; ".join(reasons) or f"{host} has no address")

    def _pooled(self, key: _PoolKey) -> _Connection | None:
        idle = self._idle.get(key)
        while idle:
            connection = idle.pop()
            if not connection.closed:
                return connection
        return None

    def _release(self, key: _PoolKey, connection: _Connection) -> None:
        idle = self._idle.setdefault(key, [])
        if len(idle) < _IDLE_PER_TARGET:
            idle.append(connection)
        else:
            connection.close()

    async def _connect(self, key: _PoolKey) -> _Connection:
        loop, scheme, address, port, host = key
        _, connection = await loop.create_connection(
            _Connection,
            address,
            port,
            ssl=self._tls if scheme == "https" else None,
            server_hostname=host if scheme == "https" else None,
        )
        return connection

    async def post_async(
        self, url: str, *, headers: dict[str, str], body: bytes, timeout: float
    ) -> HttpOutcome:
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
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        head = _request_head(path, parts.netloc.rpartition("@")[2], headers, len(body))
        connection: _Connection | None = None
        try:
            async with asyncio.timeout(timeout):
                address, refusal = await self._address(host, port)
                if address is None:
                    permanent = refusal is not None and refusal.startswith("target refused")
                    return HttpOutcome(0, refusal, permanent=permanent)
                key = (asyncio.get_running_loop(), parts.scheme, address, port, host)
                connection = self._pooled(key)
                pooled = connection is not None
                if connection is None:
                    connection = await self._connect(key)
                try:
                    status = await connection.exchange(head, body)
                except _Closed:
                    if not pooled or connection.heard:
                        raise
                    connection.close()  # the target closed it while it was idle: a new one
                    connection = await self._connect(key)
                    status = await connection.exchange(head, body)
        except TimeoutError:
            if connection is not None:
                connection.close()
            return HttpOutcome(0, f"timed out after {timeout:g} s")
        except (OSError, _Closed, ssl.SSLError, ValueError) as exc:
            if connection is not None:
                connection.close()
            return HttpOutcome(0, f"connection failed: {exc or type(exc).__name__}")
        if connection.complete and not connection.closed:
            self._release(key, connection)
        else:
            connection.close()
        return HttpOutcome(status, retry_after=_retry_after(connection.retry_after))

    # -- for callers without an event loop -----------------------------------------------

    def _loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._own_loop is None:
                loop = uvloop.new_event_loop()
                threading.Thread(target=loop.run_forever, name="hookmail-http", daemon=True).start()
                self._own_loop = loop
            return self._own_loop

    def post(
        self, url: str, *, headers: dict[str, str], body: bytes, timeout: float
    ) -> HttpOutcome:
        sending = self.post_async(url, headers=headers, body=body, timeout=timeout)
        return asyncio.run_coroutine_threadsafe(sending, self._loop()).result()

    def close(self) -> None:
        """Close the pooled connections (of every loop) and stop this transport's own loop."""
        pools, self._idle = self._idle, {}
        for key, idle in pools.items():
            loop = key[0]
            for connection in idle:
                if loop.is_closed():
                    continue
                with contextlib.suppress(RuntimeError):  # a loop stopped meanwhile
                    loop.call_soon_threadsafe(connection.close)
        with self._lock:
            own, self._own_loop = self._own_loop, None
        if own is not None:
            own.call_soon_threadsafe(own.stop)
