"""The aiosmtpd handler: thin hooks over the inbound use cases, run on threads.

The core is synchronous; each hook runs it with asyncio.to_thread and returns the reply.
250 after DATA is sent only once the message and its jobs are committed.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable
from email.utils import formatdate
from typing import Any, AnyStr
from uuid import UUID

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from prometheus_client import CollectorRegistry, Counter

from hookmail.core import sender_policy
from hookmail.core.mail import AuthResults, DkimResult, SpfOutcome, normalise_line_endings
from hookmail.core.mail import Envelope as MailEnvelope
from hookmail.core.ports import Clock, DkimVerifier, PasswordHasher, SpfChecker, UnitOfWork
from hookmail.core.services import inbound
from hookmail.core.services.inbound import Accepted, Prepared
from hookmail.entrypoints.smtp import replies
from hookmail.entrypoints.smtp.committer import GroupCommitter

log = logging.getLogger("hookmail.smtp")
MAX_RECIPIENTS = 100
_LOGIN_CACHE_SECONDS = 300


class HookmailEnvelope(Envelope):
    """aiosmtpd's envelope, plus what hookmail decided during the transaction."""

    def __init__(self) -> None:
        super().__init__()
        self.accepted: list[Accepted] = []
        self.spf: SpfOutcome | None = None


class HookmailSMTP(SMTP):
    """aiosmtpd's server, answering size errors with enhanced status codes."""

    async def push(self, status: AnyStr) -> None:
        if isinstance(status, str):
            await super().push(replies.REWRITES.get(status, status))
        else:
            await super().push(status)

    def _create_envelope(self) -> Envelope:
        return HookmailEnvelope()


def _ours(envelope: Envelope) -> HookmailEnvelope:
    if not isinstance(envelope, HookmailEnvelope):
        raise TypeError("run the handler under HookmailSMTP")
    return envelope


def _ip(session: Session) -> str:
    peer: Any = session.peer
    return str(peer[0]) if isinstance(peer, tuple) else str(peer or "")


def _login(session: Session) -> tuple[str | None, set[UUID]]:
    """The authenticated user and the policies whose credentials they gave."""
    if session.authenticated and isinstance(session.auth_data, tuple):
        user, policies = session.auth_data
        return str(user), set(policies)
    return None, set()


class InboundHandler:
    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        clock: Clock,
        hasher: PasswordHasher,
        spf: SpfChecker,
        dkim: DkimVerifier,
        *,
        hostname: str,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._hasher = hasher
        self._spf = spf
        self._dkim = dkim
        self._hostname = hostname
        self._logins: dict[tuple[str, str], tuple[float, set[UUID]]] = {}
        self._committer = GroupCommitter(uow)
        self.messages = Counter(
            "hookmail_smtp_messages",
            "Messages by outcome: accepted, refused (every recipient refused) or failed (451).",
            ["outcome"],
            registry=registry,
        )
        self.recipients = Counter(
            "hookmail_smtp_recipients",
            "RCPT TO answers by reply code.",
            ["code"],
            registry=registry,
        )

    def close(self) -> None:
        """Commit what is queued, then stop the committer (after the server stopped)."""
        self._committer.close()

    # -- AUTH -------------------------------------------------------------------------

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        """aiosmtpd calls this synchronously; verified logins are cached for five minutes
        (keyed by a digest of the password) so a busy sender costs one argon2 check."""
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user = data.login.decode("utf-8", "replace")
        password = data.password.decode("utf-8", "replace")
        key = (user, hashlib.sha256(data.password).hexdigest())
        cached = self._logins.get(key)
        if cached and cached[0] > time.monotonic():
            policies = cached[1]
        else:
            policies = inbound.smtp_login(self._uow(), self._hasher, user=user, password=password)
            if policies:
                self._logins[key] = (time.monotonic() + _LOGIN_CACHE_SECONDS, policies)
        if not policies:
            return AuthResult(success=False, handled=False, message=replies.AUTH_FAILED)
        return AuthResult(success=True, auth_data=(user, policies))

    # -- hooks ------------------------------------------------------------------------

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        session.host_name = hostname
        return [responses[0], "250-PIPELINING", *responses[1:]]

    async def handle_MAIL(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        options: list[str],
    ) -> str:
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 OK"

    def _spf_once(self, session: Session, envelope: HookmailEnvelope) -> Callable[[], SpfOutcome]:
        def check() -> SpfOutcome:
            if envelope.spf is None:
                envelope.spf = self._spf.check(
                    ip=_ip(session),
                    mail_from=envelope.mail_from or "",
                    helo=session.host_name or "",
                )
            return envelope.spf

        return check

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        options: list[str],
    ) -> str:
        transaction = _ours(envelope)
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            self.recipients.labels("452").inc()
            return replies.TOO_MANY_RECIPIENTS
        _, authenticated = _login(session)
        try:
            decision = await asyncio.to_thread(
                inbound.check_recipient,
                self._uow(),
                self._clock,
                recipient=address,
                mail_from=envelope.mail_from or "",
                remote_ip=_ip(session),
                authenticated_policies=authenticated,
                spf=self._spf_once(session, transaction),
            )
        except Exception:
            log.exception("RCPT check failed for %s", address)
            self.recipients.labels("451").inc()
            return replies.STORE_FAILED
        if isinstance(decision, inbound.Refused):
            self.recipients.labels(decision.reply[:3]).inc()
            return decision.reply
        transaction.accepted.append(decision)
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        self.recipients.labels("250").inc()
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = normalise_line_endings(envelope.original_content or b"")
        try:
            prepared = await asyncio.to_thread(self._prepare, session, _ours(envelope), raw)
            if prepared.message is None and not prepared.refusals:
                return replies.NO_RECIPIENTS_LEFT + "no recipients"
            await asyncio.wrap_future(self._committer.submit(prepared))
        except Exception:
            log.exception("storing a message failed; answered 451")
            self.messages.labels("failed").inc()
            return replies.STORE_FAILED
        if prepared.message is None:
            self.messages.labels("refused").inc()
            return replies.NO_RECIPIENTS_LEFT + "refused by every recipient's security policy"
        self.messages.labels("accepted").inc()
        return replies.queued(prepared.message.id.hex)

    def _prepare(self, session: Session, envelope: HookmailEnvelope, raw: bytes) -> Prepared:
        accepted = envelope.accepted
        dkim: tuple[DkimResult, ...] = ()
        if any(sender_policy.wants_dkim(a.policy) for a in accepted):
            dkim = self._dkim.verify(raw)
        user, _ = _login(session)
        mail_envelope = MailEnvelope(
            mail_from=envelope.mail_from or "",
            rcpt_to=tuple(a.recipient for a in accepted),
            remote_ip=_ip(session),
            helo=session.host_name or "",
            smtp_user=user,
        )
        received = (
            f"Received: from {session.host_name or 'unknown'} ([{_ip(session)}])\r\n"
            f"\tby {self._hostname} (hookmail) with ESMTP;\r\n"
            f"\t{formatdate(self._clock.now().timestamp())}\r\n"
        ).encode()
        return inbound.prepare_message(
            self._clock,
            raw=received + raw,
            envelope=mail_envelope,
            auth=AuthResults(spf=envelope.spf, dkim=dkim),
            accepted=accepted,
            message_id=_message_id(raw),
        )


def _message_id(raw: bytes) -> str | None:
    """The Message-ID header, read without a full parse."""
    head = raw.split(b"\r\n\r\n", 1)[0]
    for line in head.split(b"\r\n"):
        if line[:11].lower() == b"message-id:":
            value = line[11:].strip().decode("utf-8", "replace")
            return value or None
    return None
