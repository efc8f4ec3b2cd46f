"""Sessions that can't hurt the worker: a cap on open connections per client address, a
deadline for saying HELO/EHLO, HELO/MAIL/RCPT arguments refused (501) unless they are
printable text, and a 451 (never aiosmtpd's `500 Error: (…)`) when a command fails
unexpectedly. A logged-in session's login is checked against the store again at each MAIL
(smtp/auth.py), so a password changed mid-session stops working at once."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import Any, AnyStr, Final, cast

from hookmail.entrypoints.smtp import replies
from hookmail.entrypoints.smtp.auth import SmtpAuthenticator
from hookmail.entrypoints.smtp.handler import HookmailSMTP

log = logging.getLogger("hookmail.smtp")

# How long a session the server ended still reads (and drops) what its client sends.
LINGER: Final = 2.0


class ClientSlots:
    """Open sessions per client address, shared by every session of one server. Sessions
    live on the server's one event loop, so no lock is needed."""

    def __init__(self, per_address: int) -> None:
        self.per_address = per_address
        self._open: Counter[str] = Counter()

    def take(self, address: str) -> bool:
        if self._open[address] >= self.per_address:
            return False
        self._open[address] += 1
        return True

    def give_back(self, address: str) -> None:
        self._open[address] -= 1
        if self._open[address] <= 0:
            del self._open[address]

    def open(self, address: str) -> int:
        return self._open[address]


def _printable(arg: str | None) -> bool:
    """aiosmtpd hands arguments over decoded with `surrogateescape`: bytes that are not UTF-8
    arrive as lone surrogates, which no store can encode, and NUL, which PostgreSQL refuses.
    RFC 5321 (and 6531) allow neither in a host name or an address."""
    return arg is None or arg.isprintable()


def _address(peer: Any) -> str:
    return str(peer[0]) if isinstance(peer, tuple) else str(peer or "")


class GuardedSMTP(HookmailSMTP):
    """HookmailSMTP with the limits above. aiosmtpd's own idle timeout (`timeout`) still
    applies between commands once the client has greeted."""

    def __init__(
        self,
        handler: Any,
        *,
        slots: ClientSlots,
        greeting_timeout: float,
        logins: SmtpAuthenticator | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(handler, **kwargs)
        self._logins = logins
        self._slots = slots
        self._greeting_timeout = greeting_timeout
        self._slot: str | None = None  # the address whose slot this session holds
        self._refused = False
        self._greeting_deadline: asyncio.TimerHandle | None = None
        self._closing = False  # the last reply is sent: input is dropped until the close

    @property
    def _peer(self) -> Any:
        return self.session.peer if self.session else None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._original_transport is None:  # not the second call STARTTLS makes
            address = _address(transport.get_extra_info("peername"))
            if self._slots.take(address):
                self._slot = address
            else:
                self._refused = True
        super().connection_made(transport)
        if self._original_transport is None and not self._refused:
            self._greeting_deadline = self.loop.call_later(
                self._greeting_timeout, self._greeting_expired
            )

    def connection_lost(self, error: Exception | None) -> None:
        if self._slot is not None:
            self._slots.give_back(self._slot)
            self._slot = None
        if self._greeting_deadline is not None:
            self._greeting_deadline.cancel()
        super().connection_lost(error)

    async def _handle_client(self) -> None:
        if self._refused:
            log.info("refused %r: %d sessions open", self._peer, self._slots.per_address)
            await self.push(replies.TOO_MANY_CONNECTIONS)
            if self.transport is not None:
                self.transport.close()
            return
        await super()._handle_client()

    def _greeting_expired(self) -> None:
        if self.transport is None:
            return
        log.info("%r said no HELO/EHLO in %ss; closed", self._peer, self._greeting_timeout)
        self._close_after(replies.GREETING_TIMEOUT)

    def _close_after(self, reply: str) -> None:
        """Send the last reply and close the way a careful server does (a "lingering
        close"): the sending side is shut first, so the client reads the reply and then the
        end of the stream, and what the client still sends is read and dropped until it
        closes too, or LINGER seconds pass. A socket closed with input unread answers with a
        reset, and a client that sent a command as the deadline fired would get that reset,
        which can destroy the reply before the client reads it."""
        transport = self.transport
        if transport is None or self._closing:
            return
        self._closing = True
        held = b"".join(self._held or ())  # replies to commands read before the deadline
        self._writer.write(held + f"{reply}\r\n".encode())
        stream = cast(asyncio.Transport, transport)  # uvloop's is one, not a subclass
        if stream.can_write_eof():
            stream.write_eof()
            stream.resume_reading()  # the session's reader may have paused it
            self.loop.call_later(LINGER, stream.close)
        else:  # TLS can't half-close
            stream.close()

    def data_received(self, data: bytes) -> None:
        if not self._closing:
            super().data_received(data)

    async def push(self, status: AnyStr) -> None:
        if not self._closing:  # nothing is said after the last reply
            await super().push(status)

    def _greeted(self) -> None:
        if self.session and self.session.host_name and self._greeting_deadline is not None:
            self._greeting_deadline.cancel()
            self._greeting_deadline = None

    async def smtp_HELO(self, hostname: str) -> None:  # noqa: N802
        if not _printable(hostname):
            await self.push(replies.BAD_HELO)
            return
        await super().smtp_HELO(hostname)
        self._greeted()

    async def smtp_EHLO(self, hostname: str) -> None:  # noqa: N802
        if not _printable(hostname):
            await self.push(replies.BAD_HELO)
            return
        await super().smtp_EHLO(hostname)
        self._greeted()

    async def smtp_MAIL(self, arg: str | None) -> None:  # noqa: N802
        if not _printable(arg):
            await self.push(replies.BAD_SENDER)
            return
        logins, session = self._logins, self.session
        if logins and session and session.authenticated and not await logins.recheck(self):
            await self.push(replies.STORE_FAILED)
            return
        await super().smtp_MAIL(arg)

    async def smtp_RCPT(self, arg: str | None) -> None:  # noqa: N802
        if not _printable(arg):
            await self.push(replies.BAD_ADDRESS)
            return
        await super().smtp_RCPT(arg)

    async def handle_exception(self, error: Exception) -> str:
        # Called within aiosmtpd's `except` block, so the traceback is logged
        log.exception("%r SMTP command failed; answered 451", self._peer)
        return replies.SESSION_FAILED
