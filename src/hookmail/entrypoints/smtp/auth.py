"""SMTP AUTH PLAIN and LOGIN, checked off the event loop with bounded concurrency.

aiosmtpd's built-in mechanisms call a *synchronous* authenticator on the event loop, so one
argon2 check (~0.1 s) stalls every session of the worker. aiosmtpd documents the way out:
a handler's async `auth_PLAIN`/`auth_LOGIN` hooks replace the built-in ones. Ours read the
exchange with aiosmtpd's public `challenge_auth`/`push`, then run the use case
(core/services/smtp_auth.py) on a pool of `concurrency` threads of its own: argon2 releases
the GIL, the loop keeps serving, and never more than `concurrency` hashes (64 MiB each) run
at once, whatever the number of connections sending AUTH; the rest wait their turn without
holding a thread of the pool RCPT and DATA use.
"""

from __future__ import annotations

import asyncio
import binascii
import logging
from base64 import b64decode
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, Final
from weakref import WeakKeyDictionary

from aiosmtpd.smtp import SMTP, AuthResult, Session
from prometheus_client import CollectorRegistry, Counter

from hookmail.core.ports import Clock, CredentialHasher, UnitOfWork
from hookmail.core.services import smtp_auth
from hookmail.core.throttle import Limit
from hookmail.entrypoints.smtp import replies

log = logging.getLogger("hookmail.smtp")

CANT_DECODE: Final = "501 5.5.2 Can't decode base64"
CANT_SPLIT: Final = "501 5.5.2 Can't split auth value"
# The exchange ended with a reply already sent (a 501 from challenge_auth, or ours above):
# smtp_AUTH must send nothing more, or the client reads one reply too many.
_ANSWERED: Final = AuthResult(success=False, handled=True)


def _client(server: SMTP) -> str:
    peer: Any = server.session.peer if server.session else None
    return str(peer[0]) if isinstance(peer, tuple) else str(peer or "")


class SmtpAuthenticator:
    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        clock: Clock,
        hasher: CredentialHasher,
        limit: Limit,
        *,
        concurrency: int,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._hasher = hasher
        self._limit = limit
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="smtp-auth")
        self._logins: WeakKeyDictionary[Session, smtp_auth.LoggedIn] = WeakKeyDictionary()
        self.attempts = Counter(
            "hookmail_smtp_auth",
            "SMTP AUTH attempts by outcome: ok (235), failed (535), throttled (454 after too "
            "many failures) or error (454, the check itself failed).",
            ["outcome"],
            registry=registry,
        )

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    async def plain(self, server: SMTP, args: list[str]) -> AuthResult:
        """RFC 4616: `authzid NUL authcid NUL password`, inline or after an empty challenge."""
        blob = await self._response(server, args, "")
        if blob is None:
            return _ANSWERED
        parts = blob.split(b"\x00")
        if len(parts) != 3:
            await server.push(CANT_SPLIT)
            return _ANSWERED
        return await self._check(server, parts[1], parts[2])

    async def login(self, server: SMTP, args: list[str]) -> AuthResult:
        """The LOGIN mechanism: user name (inline or asked for), then password."""
        user = await self._response(server, args, server.AuthLoginUsernameChallenge)
        if user is None:
            return _ANSWERED
        password = await self._response(server, [], server.AuthLoginPasswordChallenge)
        if password is None:
            return _ANSWERED
        return await self._check(server, user, password)

    @staticmethod
    async def _response(server: SMTP, args: list[str], challenge: str) -> bytes | None:
        """The client's decoded answer: given inline (args[1]) or to `challenge`; None once
        a 501 has been sent for a malformed or aborted one."""
        if len(args) > 1:
            try:
                return b64decode(args[1].encode("utf-8", "surrogateescape"), validate=True)
            except (binascii.Error, ValueError):
                await server.push(CANT_DECODE)
                return None
        answer = await server.challenge_auth(challenge)
        return answer if isinstance(answer, bytes) else None

    async def _check(self, server: SMTP, login: bytes, password: bytes) -> AuthResult:
        user = login.decode("utf-8", "replace")
        check = partial(
            smtp_auth.authenticate,
            self._uow(),
            self._clock,
            self._hasher,
            self._limit,
            user=user,
            password=password.decode("utf-8", "replace"),
            client=_client(server),
        )
        try:
            outcome = await asyncio.get_running_loop().run_in_executor(self._pool, check)
        except Exception:
            log.exception("SMTP AUTH check failed; answered 454")
            self.attempts.labels("error").inc()
            return AuthResult(success=False, handled=False, message=replies.AUTH_UNAVAILABLE)
        if isinstance(outcome, smtp_auth.LoggedIn):
            self.attempts.labels("ok").inc()
            if server.session is not None:
                self._logins[server.session] = outcome
            # (user, policies): what the handler reads at RCPT (handler._login)
            return AuthResult(success=True, auth_data=(outcome.user, set(outcome.policies)))
        if isinstance(outcome, smtp_auth.LoginThrottled):
            self.attempts.labels("throttled").inc()
            return AuthResult(success=False, handled=False, message=replies.AUTH_THROTTLED)
        self.attempts.labels("failed").inc()
        return AuthResult(success=False, handled=False, message=replies.AUTH_FAILED)

    async def recheck(self, server: SMTP) -> bool:
        """Before each transaction of a logged-in session: keep only the policies whose
        credential it matched is still stored (a password changed mid-session stops working
        at once), logging the session out when none is left. One indexed read on a thread,
        no hash. False (and logged) when the store could not be read."""
        session = server.session
        login = self._logins.get(session) if session is not None else None
        if session is None or login is None:
            return True
        try:
            now = await asyncio.to_thread(smtp_auth.still_logged_in, self._uow(), login)
        except Exception:
            log.exception("re-checking an SMTP login failed")
            return False
        if now.policies:
            self._logins[session] = now
            session.auth_data = (now.user, set(now.policies))  # type: ignore[assignment]  # aiosmtpd types it None; it holds any data
        else:
            del self._logins[session]
            session.authenticated = False
            session.auth_data = None
        return True
