"""The aiosmtpd handler: thin hooks over the inbound use cases.

The core is synchronous. What needs the store or DNS runs on a thread
(asyncio.to_thread); pure decisions run on the event loop, since a thread hop costs more
than they do. RCPT TO is answered from a route cache that a notice from the store clears
(adapters/notify.py), so the common case reads nothing. 250 after DATA is sent only once
the message and its jobs are committed (group commit, committer.py).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import Counter as Counter_
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, AnyStr, Final
from uuid import UUID

from aiosmtpd.smtp import MISSING, SMTP, AuthResult, Envelope, Session
from attrs import evolve, frozen
from prometheus_client import CollectorRegistry, Counter

from hookmail.adapters.notify import Listener
from hookmail.core.deliveries import DeliveryJob
from hookmail.core.mail import AuthResults, SpfOutcome, normalise_line_endings
from hookmail.core.mail import Envelope as MailEnvelope
from hookmail.core.ports import (
    Clock,
    DkimVerifier,
    DmarcEvaluator,
    Route,
    SpfChecker,
    UnitOfWork,
    WebhookTransport,
)
from hookmail.core.services import (
    authentication,
    delivery,
    inbound,
    sync_delivery,
    webhook_health,
)
from hookmail.core.services.authentication import AuthChecks
from hookmail.core.services.delivery import Attempt, DeliveryConfig, Work
from hookmail.core.services.inbound import Accepted, Prepared, Refused
from hookmail.core.services.sync_delivery import Verdict
from hookmail.core.services.webhook_health import HealthPolicy
from hookmail.core.smtp_policies import wants_spf
from hookmail.core.webhooks import Address, Webhook
from hookmail.entrypoints.smtp import replies
from hookmail.entrypoints.smtp.auth import SmtpAuthenticator
from hookmail.entrypoints.smtp.committer import GroupCommitter

log = logging.getLogger("hookmail.smtp")
MAX_RECIPIENTS = 100
_INLINE_BYTES = 256 * 1024  # smaller messages are prepared on the loop: a thread hop costs more
_ROUTE_CACHE_SIZE = 10_000
_ROUTE_CACHE_SECONDS = 5.0  # a safety net only: notices clear the cache at once

# `<local@domain>` in its plain dot-atom form, as nearly every client sends it. Anything
# else goes through aiosmtpd's own (RFC 5322) parser.
_PLAIN_PATH = re.compile(
    r"\s*<([A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)>"
)


@frozen
class _Lookup:
    """A RCPT TO looked up in the store: its address (None: not valid), its route (None:
    nobody takes it) and, for a tagged address, whether its domain has no tagged webhook
    address (None: not asked)."""

    address: Address | None
    route: Route | None
    tagless: bool | None = None


class HookmailEnvelope(Envelope):
    """aiosmtpd's envelope, plus what hookmail decided during the transaction."""

    def __init__(self) -> None:
        super().__init__()
        self.accepted: list[Accepted] = []
        self.spf: SpfOutcome | None = None


YIELD_EVERY: Final = 32
# DATA: how many times a message's reading looks for the rest of it in the buffer (a small
# one is all there after its first line; a big one is read line by line after these)
_LOOKS_AHEAD: Final = 4


def _unstuffed(data: bytes) -> bytes:
    """Lines of DATA as sent (each with its CRLF) without the dot a client doubles at the
    start of a line (RFC 5321 §4.5.2)."""
    if data.startswith(b"."):
        data = data[1:]
    return data.replace(b"\r\n.", b"\r\n")


class HookmailSMTP(SMTP):
    """aiosmtpd's server, answering size errors with enhanced status codes, and sending the
    replies to pipelined commands together."""

    _held: list[bytes] | None = None  # 250 replies waiting for the next reply
    _replies = 0

    async def push(self, status: AnyStr) -> None:
        # A command whose line is already buffered is read without waiting, so a client
        # that pipelines thousands of commands would keep the event loop, and every other
        # session, waiting until its buffer is done: every YIELD_EVERY replies the session
        # lets the others run.
        self._replies += 1
        if self._replies % YIELD_EVERY == 0:
            await asyncio.sleep(0)
        if isinstance(status, str):
            status = replies.REWRITES.get(status, status)
            line = status.encode("utf-8" if self.enable_SMTPUTF8 else "ascii") + b"\r\n"
        else:
            line = status + b"\r\n"
        # RFC 2920: a 250 whose next command already waits in the buffer (MAIL, RCPT and
        # DATA sent at once) is held and sent with the next reply: one write, one wake-up of
        # the client, instead of one per command. Only 250s: after them the session reads a
        # command line, which is there, so the next reply comes at once. A reply after which
        # something else is read (354 before the message, 334 in AUTH, 220 before TLS) is
        # never held.
        if line.startswith(b"250") and self._command_waiting():
            if self._held is None:
                self._held = []
            self._held.append(line)
            return
        if self._held:
            line = b"".join(self._held) + line
            self._held.clear()
        self._writer.write(line)
        await self._writer.drain()

    async def smtp_DATA(self, arg: str) -> None:
        """aiosmtpd's DATA, the same conversation (354; 500 for a line over the limit, 552
        over the size limit, both after the whole message; RFC 5321 §4.5.2 dot-unstuffing),
        but the message is gathered in one growing buffer. aiosmtpd keeps a bytearray per
        line and joins them: for a 25 MiB message of 76-character lines that peaked at 4x
        its size; this peaks at about 2x (test_memory.py), and costs less CPU per line."""
        if self._decode_data or "DATA" not in self._handle_hooks:  # not hookmail's setup
            await super().smtp_DATA(arg)
            return
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        if self.envelope is None:
            raise RuntimeError("DATA without a transaction")
        if not self.envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        body = bytearray()
        size = 0
        limit = self.data_size_limit
        too_long = too_much = False
        partial = False  # the line read so far ran over the stream limit: no CRLF yet
        looks = _LOOKS_AHEAD  # each look searches the buffer: a big message gets a few
        while self.transport is not None:
            if looks and not (partial or too_long or too_much):  # at the start of a line
                looks -= 1
                rest = self._rest_buffered(limit - size if limit else None)
                if rest:  # the rest of the message is here: taken at once
                    body += _unstuffed((await self._reader.readexactly(rest))[:-3])
                    break
            try:
                line = await self._reader.readuntil(b"\r\n")
            except asyncio.CancelledError:  # the connection was reset during DATA
                log.info("connection lost during DATA")
                self._writer.close()
                raise
            except asyncio.LimitOverrunError as exc:  # a line over the stream's limit
                too_long = too_long or not too_much
                body.clear()
                line = await self._reader.read(exc.consumed)  # drained all the same
                partial = True
                size += len(line)
                continue
            if partial:  # the end of an overlong line
                partial = False
                size += len(line)
                continue
            if line == b".\r\n":
                break
            size += len(line)
            if limit and size > limit and not too_long:
                too_much = True
            if too_long or too_much:
                body.clear()  # nothing kept of a message that will be refused
                continue
            if len(line) > self.line_length_limit:
                too_long = True
                body.clear()
                continue
            body += memoryview(line)[1:] if line[:1] == b"." else line
        if too_long or too_much:
            await self.push(
                "500 Line too long (see RFC5321 4.5.3.1.6)"
                if too_long
                else "552 Error: Too much mail data"
            )
            self._set_post_data_state()  # type: ignore[no-untyped-call]
            return
        content = bytes(body)
        del body
        self.envelope.content = self.envelope.original_content = content
        del content  # the handler takes it from the envelope and lets it go
        status = await self._call_handler_hook("DATA")
        self._set_post_data_state()  # type: ignore[no-untyped-call]
        await self.push("250 OK" if status is MISSING else status)

    def _rest_buffered(self, room: int | None) -> int:
        """At the start of a line of DATA: when the rest of the message, up to and with its
        lone dot, is in the reader's buffer already (a small message arrives in one read),
        and is plain (no line over the limit, at most `room` bytes), its length; else 0.
        Taking it at once is what the line by line loop would do, without an await and
        a pass of the loop per line: the loop handles all else (and a message not all here)."""
        buffered = self._buffered()
        if buffered is None:
            return 0
        if buffered.startswith(b".\r\n"):
            return 3
        end = buffered.find(b"\r\n.\r\n")
        if end < 0 or (room is not None and end + 2 > room):
            return 0
        lines = bytes(buffered[:end]).split(b"\r\n")
        if max(map(len, lines)) + 2 > self.line_length_limit:
            return 0
        return end + 5

    def _buffered(self) -> bytearray | None:
        """What the client sent that is not read yet (asyncio.StreamReader's buffer)."""
        buffered = getattr(self._reader, "_buffer", None)
        return buffered if isinstance(buffered, bytearray) else None

    def _command_waiting(self) -> bool:
        buffered = self._buffered()
        return buffered is not None and b"\n" in buffered

    def _create_envelope(self) -> Envelope:
        return HookmailEnvelope()

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        """aiosmtpd's address parser, with a fast path for the plain `<a@b.c>` form: its
        own runs the RFC 5322 header parser (and declares a class) on every MAIL and RCPT."""
        plain = _PLAIN_PATH.match(arg)
        if plain is None:
            found: tuple[str | None, str | None] = super()._getaddr(arg)
            return found
        address = plain.group(1)
        if self.local_part_limit and len(address.rpartition("@")[0]) > self.local_part_limit:
            return None, None
        return address, arg[plain.end() :]


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
        auth: SmtpAuthenticator,
        spf: SpfChecker,
        dkim: DkimVerifier,
        dmarc: DmarcEvaluator,
        *,
        hostname: str,
        routes_changed: Listener | None = None,
        auth_checks: AuthChecks = AuthChecks.POLICY,
        registry: CollectorRegistry | None = None,
        transport: WebhookTransport | None = None,
        delivery: DeliveryConfig | None = None,
        sync_timeout: float = 30.0,
        sync_concurrency: int = 32,
        health: HealthPolicy | None = None,
    ) -> None:
        self._uow = uow
        self._health = health
        # Sync webhooks (§6.4): their first attempt runs on threads of a pool of its own,
        # so neither the event loop nor the commit thread ever waits for a target.
        self._transport = transport
        self._sync_config = (
            evolve(delivery, timeout=min(sync_timeout, delivery.timeout)) if delivery else None
        )
        self._sync_pool = ThreadPoolExecutor(sync_concurrency, thread_name_prefix="hookmail-sync")
        self._sync_admission = asyncio.Lock()
        self._sync_in_flight: Counter_[UUID] = Counter_()
        self._routes_changed = routes_changed
        self._routes: dict[str, tuple[Address | None, Route | None]] = {}
        # domains (lower case) without a tagged webhook address: there `local+tag@domain`
        # routes as `local@domain` does, so a new tag needs no read of the store
        self._tagless: set[str] = set()
        self._routes_since = time.monotonic()
        self._clock = clock
        self._auth = auth
        self._spf = spf
        self._dkim = dkim
        self._dmarc = dmarc
        self._auth_checks = auth_checks
        # SPF, DKIM and DMARC wait on DNS here, not in the default pool that every session's
        # RCPT checks and stores use: a slow name server can't stall other sessions.
        self._auth_pool = ThreadPoolExecutor(32, thread_name_prefix="hookmail-auth")
        self._hostname = hostname
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
        # the counters bumped on every message and recipient, labelled once (labels() takes
        # a lock and validates its values on every call)
        self._accepted = self.messages.labels("accepted")
        self._recipient_ok = self.recipients.labels("250")

    def close(self) -> None:
        """Commit what is queued, then stop the committer (after the server stopped)."""
        self._committer.close()
        self._sync_pool.shutdown(wait=False, cancel_futures=True)
        self._auth_pool.shutdown(wait=False, cancel_futures=True)
        if self._routes_changed is not None:
            self._routes_changed.close()
        self._auth.close()

    # -- routing ----------------------------------------------------------------------

    def _cached_route(self, recipient: str) -> tuple[Address | None, Route | None] | None:
        """The cached (address, route) of a RCPT TO, or None to look it up. Without a
        listener there is no cache (every RCPT reads the store)."""
        if self._routes_changed is None:
            return None
        now = time.monotonic()
        if self._routes_changed.poll() or now - self._routes_since > _ROUTE_CACHE_SECONDS:
            self._routes.clear()
            self._tagless.clear()
            self._routes_since = now
        return self._routes.get(recipient) or self._tagged_route(recipient)

    def _tagged_route(self, recipient: str) -> tuple[Address | None, Route | None] | None:
        """`local+tag@domain` where the domain has no tagged webhook address: the cached
        route of `local@domain` (reply+token@ addresses, a new tag on every message)."""
        local, _, domain = recipient.rpartition("@")
        base, plus, _tag = local.partition("+")
        if not plus or not base or domain.lower() not in self._tagless:
            return None
        cached = self._routes.get(f"{base}@{domain}")
        if cached is None:
            return None
        address = inbound.parse_recipient(recipient)
        return (address, cached[1]) if address is not None else None

    def _lookup(self, recipient: str) -> _Lookup:
        """On a thread: parse and route a RCPT TO with one read of the store; for a tagged
        address, whether its domain has tagged webhook addresses (read once a domain)."""
        address = inbound.parse_recipient(recipient)
        found = inbound.find_route(self._uow(), address) if address is not None else None
        tagless = None
        asked = (
            address is not None
            and "+" in address.local
            and self._routes_changed is not None
            and recipient.rpartition("@")[2].lower() not in self._tagless
        )
        if asked and address is not None:
            with self._uow().reading() as uow:
                tagless = not uow.webhooks.has_tagged(address.domain.value)
        return _Lookup(address, found, tagless)

    def _remember(self, recipient: str, found: _Lookup) -> None:
        if self._routes_changed is None:
            return
        if len(self._routes) >= _ROUTE_CACHE_SIZE:
            self._routes.clear()
        self._routes[recipient] = (found.address, found.route)
        local, _, domain = recipient.rpartition("@")
        base = local.partition("+")[0]
        if found.tagless and base and found.route is not None:  # a domain served here
            if len(self._tagless) >= _ROUTE_CACHE_SIZE:
                self._tagless.clear()
            self._tagless.add(domain.lower())
            # no tagged address on the domain: the route found is the untagged address's
            base_address = inbound.parse_recipient(f"{base}@{domain}")
            self._routes[f"{base}@{domain}"] = (base_address, found.route)

    # -- AUTH: mechanism hooks replacing aiosmtpd's synchronous ones (smtp/auth.py) ---------

    async def auth_PLAIN(self, server: SMTP, args: list[str]) -> AuthResult:
        return await self._auth.plain(server, args)

    async def auth_LOGIN(self, server: SMTP, args: list[str]) -> AuthResult:
        return await self._auth.login(server, args)

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
            entry = self._cached_route(address)
            if entry is None:
                looked_up = await asyncio.to_thread(self._lookup, address)
                self._remember(address, looked_up)
                entry = looked_up.address, looked_up.route
            parsed, found = entry
            if found is not None and wants_spf(found.policy) and transaction.spf is None:
                await asyncio.get_running_loop().run_in_executor(  # DNS: on the auth pool
                    self._auth_pool, self._spf_once(session, transaction)
                )
            decision = inbound.decide_recipient(
                found,
                recipient=str(parsed),
                remote_ip=_ip(session),
                authenticated_policies=authenticated,
                spf=self._spf_once(session, transaction),
            )
            if isinstance(decision, Refused) and decision.detail and found is not None:
                await asyncio.to_thread(
                    inbound.log_refusal,
                    self._uow(),
                    self._clock,
                    found.webhook,
                    detail=decision.detail,
                    mail_from=envelope.mail_from or "",
                )
        except Exception:
            log.exception("RCPT check failed for %s", address)
            self.recipients.labels("451").inc()
            return replies.STORE_FAILED
        if isinstance(decision, Refused):
            reply = replies.refused(decision)
            self.recipients.labels(reply[:3]).inc()
            return reply
        transaction.accepted.append(decision)
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        self._recipient_ok.inc()
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        transaction = _ours(envelope)
        raw = envelope.original_content or b""
        envelope.original_content = envelope.content = None  # one copy of a big message
        try:
            auth = await self._authenticate(session, transaction, raw)
            if len(raw) <= _INLINE_BYTES:
                prepared = self._prepare(session, transaction, raw, auth)
            else:
                prepared = await asyncio.to_thread(self._prepare, session, transaction, raw, auth)
            del raw
            if prepared.message is None and not prepared.refusals:
                return replies.NO_RECIPIENTS_LEFT + "no recipients"
            sync_reply: str | None = None
            attempts: list[Attempt] = []
            sync = self._sync_jobs(prepared, transaction)
            if sync:
                prepared, sync_reply, attempts = await self._deliver_sync(prepared, sync)
            await asyncio.wrap_future(self._committer.submit(prepared))
            if attempts and self._health is not None:  # failing_since, as queued attempts do
                await asyncio.to_thread(
                    webhook_health.record_health, self._uow(), self._health, attempts
                )
        except Exception:
            log.exception("storing a message failed; answered 451")
            self.messages.labels("failed").inc()
            return replies.STORE_FAILED
        if sync_reply is not None:  # the logs of the sync attempts are stored; the mail not
            self.messages.labels("failed" if sync_reply[0] == "4" else "refused").inc()
            return sync_reply
        if prepared.message is None:
            self.messages.labels("refused").inc()
            return replies.NO_RECIPIENTS_LEFT + "refused by every recipient's security policy"
        self._accepted.inc()
        return replies.queued(prepared.message.id.hex)

    # -- synchronous webhooks ---------------------------------------------------------

    def _sync_jobs(
        self, prepared: Prepared, envelope: HookmailEnvelope
    ) -> list[tuple[DeliveryJob, Webhook]]:
        if self._transport is None or prepared.message is None:
            return []  # no transport (a library harness): every webhook is queued
        return sync_delivery.sync_jobs(prepared, envelope.accepted)

    async def _deliver_sync(
        self, prepared: Prepared, jobs: list[tuple[DeliveryJob, Webhook]]
    ) -> tuple[Prepared, str | None, list[Attempt]]:
        """Make the sync recipients' first attempts; what to commit, DATA's reply when it is
        not the usual 250 (see core/services/sync_delivery.py), and the attempts made."""
        async with self._sync_admission:  # one admission at a time: in-flight counts hold
            work = await asyncio.to_thread(
                sync_delivery.admit,
                self._uow(),
                self._clock.now(),
                jobs,
                prepared,
                in_flight=dict(self._sync_in_flight),
            )
            if work is None:
                return Prepared(None, (), prepared.refusals), replies.SYNC_RATE_LIMITED, []
            self._sync_in_flight.update(w.webhook.id for w in work)
        loop = asyncio.get_running_loop()
        try:
            made = await asyncio.gather(
                *(loop.run_in_executor(self._sync_pool, self._attempt, w) for w in work),
                return_exceptions=True,
            )
        finally:
            self._sync_in_flight.subtract(w.webhook.id for w in work)
        attempts = [a for a in made if isinstance(a, Attempt)]
        for failure in made:
            if isinstance(failure, BaseException):
                log.error("a sync attempt could not be made", exc_info=failure)
        if len(attempts) < len(work):  # the sending server keeps the mail and retries
            logs = (*prepared.refusals, *(a.log for a in attempts))
            return Prepared(None, (), logs), replies.SYNC_DEFERRED, attempts
        settled = sync_delivery.settle(prepared, attempts)
        if settled.verdict is Verdict.ACCEPT:
            return settled.to_commit, None, attempts
        if settled.verdict is Verdict.REFUSE:
            reply = replies.sync_refused(settled.refused_status, settled.refused_error)
            return settled.to_commit, reply, attempts
        return settled.to_commit, replies.SYNC_DEFERRED, attempts

    def _attempt(self, work: Work) -> Attempt:
        """On a sync pool thread: the queue's own attempt, with the sync timeout."""
        if self._transport is None or self._sync_config is None:
            raise RuntimeError("sync delivery needs a transport and a delivery config")
        return delivery.attempt(self._clock, self._transport, self._sync_config, work=work)

    async def _authenticate(
        self, session: Session, envelope: HookmailEnvelope, raw: bytes
    ) -> AuthResults:
        """What the recipients' policies (or AUTH_CHECKS=always) need checked after DATA,
        on the auth pool; no thread hop when nothing is."""
        wanted = authentication.needs((a.policy for a in envelope.accepted), self._auth_checks)
        if not wanted.any:
            return AuthResults(spf=envelope.spf)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._auth_pool,
            lambda: authentication.check(
                wanted,
                self._dkim,
                self._dmarc,
                raw=normalise_line_endings(raw),
                spf=self._spf_once(session, envelope),
                spf_known=envelope.spf,
            ),
        )

    def _prepare(
        self, session: Session, envelope: HookmailEnvelope, raw: bytes, auth: AuthResults
    ) -> Prepared:
        accepted = envelope.accepted
        user, _ = _login(session)
        mail_envelope = MailEnvelope(
            mail_from=envelope.mail_from or "",
            rcpt_to=tuple(a.recipient for a in accepted),
            remote_ip=_ip(session),
            helo=session.host_name or "",
            smtp_user=user,
        )
        return inbound.prepare_message(
            self._clock,
            raw=raw,
            envelope=mail_envelope,
            auth=auth,
            accepted=accepted,
            hostname=self._hostname,
        )
