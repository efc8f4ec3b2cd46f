"""The inbound use cases (parse_recipient, find_route, decide_recipient, check_recipient,
prepare_message, commit_prepared, receive) on the in-memory store: routing, each policy
refusal with its reason and log row, DKIM after DATA, and the stored message's shape
(SPEC §4)."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any
from uuid import UUID

import pytest

from hookmail.adapters.memory import FixedClock, InMemoryUnitOfWork, StubDkim, StubSpf
from hookmail.core.deliveries import DeliveryLog, DeliveryStatus
from hookmail.core.domains import DomainName
from hookmail.core.mail import AuthResults, DkimResult, Envelope, SpfOutcome, received_header
from hookmail.core.services import inbound
from hookmail.core.services.inbound import Accepted, RefusalReason, Refused
from hookmail.core.smtp_policies import SmtpPolicy
from hookmail.core.webhooks import Webhook
from tests.builders import NOW, a_domain, a_policy, a_webhook, an_account

HOST = "mx.hookmail.test"
SENDER = "alice@example.org"


class Store:
    """Account A with a verified domain a.test (sales@, paused@), a verified b.test with a
    catch-all, an unverified u.test (x@), and a webhook of A on account B's verified c.test."""

    def __init__(self) -> None:
        self.uow = InMemoryUnitOfWork()
        self.clock = FixedClock(NOW)
        self.owner = an_account()
        other = an_account()
        self.a = a_domain(self.owner.id, "a.test", verified=True)
        b = a_domain(self.owner.id, "b.test", verified=True)
        u = a_domain(self.owner.id, "u.test")
        c = a_domain(other.id, "c.test", verified=True)
        self.hooks = {
            "sales": a_webhook(self.a, self.owner.id, "sales"),
            "paused": a_webhook(self.a, self.owner.id, "paused", active=False),
            "catch-all": a_webhook(b, self.owner.id, "*"),
            "unverified": a_webhook(u, self.owner.id, "x"),
            "foreign": a_webhook(c, self.owner.id, "x"),
        }
        with self.uow:
            self.uow.accounts.add(self.owner)
            self.uow.accounts.add(other)
            for domain in (self.a, b, u, c):
                self.uow.domains.save(domain)
            for hook in self.hooks.values():
                self.uow.webhooks.save(hook)
            self.uow.commit()

    def guarded(self, local: str, **rules: Any) -> tuple[Webhook, SmtpPolicy]:
        """A webhook `local@a.test` under a policy with `rules`."""
        policy = a_policy(self.owner.id, **rules)
        hook = a_webhook(self.a, self.owner.id, local, smtp_security_policy_id=policy.id)
        with self.uow:
            self.uow.policies.save(policy)
            self.uow.webhooks.save(hook)
            self.uow.commit()
        return hook, policy

    def check(
        self,
        recipient: str,
        *,
        remote_ip: str = "203.0.113.5",
        authenticated: tuple[UUID, ...] = (),
        spf: SpfOutcome | None = None,
    ) -> Accepted | Refused:
        def spf_check() -> SpfOutcome:
            if spf is None:
                raise AssertionError("SPF was checked though no policy asks for it")
            return spf

        return inbound.check_recipient(
            self.uow,
            self.clock,
            recipient=recipient,
            mail_from=SENDER,
            remote_ip=remote_ip,
            authenticated_policies=authenticated,
            spf=spf_check,
        )

    def logs(self, hook: Webhook) -> list[DeliveryLog]:
        with self.uow.reading():
            return self.uow.delivery_logs.of_webhook(hook.id, offset=0, limit=100)


# -- routing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("recipient", "expected"),
    [
        ("sales@a.test", "sales"),  # exact
        ("Sales@A.TEST", "sales"),
        ("sales+q3@a.test", "sales"),  # local+tag
        ("anyone@b.test", "catch-all"),
        ("anyone+tag@b.test", "catch-all"),
    ],
)
def test_a_recipient_routes_to_its_webhook(recipient: str, expected: str) -> None:
    store = Store()
    decision = store.check(recipient)
    assert isinstance(decision, Accepted)
    assert decision.webhook.id == store.hooks[expected].id
    assert decision.recipient == recipient.lower()  # the normal form
    assert decision.policy is None


@pytest.mark.parametrize(
    ("recipient", "reason"),
    [
        ("nobody@a.test", RefusalReason.UNKNOWN),  # no webhook, no catch-all
        ("sales@nowhere.test", RefusalReason.UNKNOWN),
        ("x@u.test", RefusalReason.UNKNOWN),  # a webhook on an unverified domain
        ("x@c.test", RefusalReason.UNKNOWN),  # a webhook on another account's domain
        ("not an address", RefusalReason.UNKNOWN),
        ("", RefusalReason.UNKNOWN),
        ("paused@a.test", RefusalReason.INACTIVE),
        ("paused+tag@a.test", RefusalReason.INACTIVE),
    ],
)
def test_a_recipient_no_usable_webhook_takes_is_refused(
    recipient: str, reason: RefusalReason
) -> None:
    store = Store()
    assert store.check(recipient) == Refused(reason)
    for hook in store.hooks.values():
        assert store.logs(hook) == []  # nothing to tell a customer


def test_parse_recipient_gives_the_normal_form_or_none() -> None:
    address = inbound.parse_recipient(" Sales+Q3@A.Test ")
    assert address is not None
    assert str(address) == "sales+q3@a.test"
    assert inbound.parse_recipient("a@b@") is None
    assert inbound.parse_recipient("@a.test") is None


def test_find_route_on_a_public_domain_serves_every_account() -> None:
    store = Store()
    public = a_domain(None, "public.test")
    hook = a_webhook(public, store.owner.id, "mine")
    with store.uow:
        store.uow.domains.save(public)
        store.uow.webhooks.save(hook)
        store.uow.commit()
    address = inbound.parse_recipient("mine@public.test")
    assert address is not None
    found = inbound.find_route(store.uow, address)
    assert found is not None
    assert (found.webhook.id, found.domain.id) == (hook.id, public.id)


def test_a_domain_verified_later_starts_routing() -> None:
    store = Store()
    assert store.check("x@u.test") == Refused(RefusalReason.UNKNOWN)
    with store.uow:
        (u,) = store.uow.domains.named(DomainName.parse("u.test"))
        store.uow.domains.save(u.verify(NOW))
        store.uow.commit()
    assert isinstance(store.check("x@u.test"), Accepted)


# -- policies at RCPT ------------------------------------------------------------------------


def _refused_and_logged(store: Store, hook: Webhook, decision: object, detail: str) -> None:
    assert decision == Refused(RefusalReason.POLICY, detail)
    (log,) = store.logs(hook)
    assert (log.status, log.attempt, log.http_status, log.sender) == (
        DeliveryStatus.REFUSED,
        0,
        0,
        SENDER,
    )
    assert log.error == f"refused by SMTP security policy: {detail}"
    assert log.attempted_at == NOW


def test_a_source_address_outside_the_allowed_networks_is_refused_and_logged() -> None:
    store = Store()
    hook, _ = store.guarded("ips", allowed_source_ips=(ipaddress.ip_network("192.0.2.0/24"),))
    assert isinstance(store.check("ips@a.test", remote_ip="192.0.2.7"), Accepted)
    assert isinstance(store.check("ips@a.test", remote_ip="::ffff:192.0.2.7"), Accepted)
    assert store.logs(hook) == []
    decision = store.check("ips@a.test", remote_ip="203.0.113.9")
    _refused_and_logged(store, hook, decision, "source address 203.0.113.9 is not allowed")


def test_smtp_auth_required_refuses_a_sender_not_authenticated_for_this_policy() -> None:
    store = Store()
    hook, policy = store.guarded("auth", require_smtp_auth=True)
    _, other = store.guarded("other-auth", require_smtp_auth=True)
    assert isinstance(store.check("auth@a.test", authenticated=(policy.id,)), Accepted)
    # logged in, but with another policy's credentials
    decision = store.check("auth@a.test", authenticated=(other.id,))
    _refused_and_logged(
        store, hook, decision, "SMTP AUTH with this address's credentials is required"
    )


@pytest.mark.parametrize("result", ["fail", "softfail", "neutral", "none", "temperror"])
def test_spf_other_than_pass_is_refused_when_required(result: str) -> None:
    store = Store()
    hook, _ = store.guarded("spf", require_spf=True)
    decision = store.check("spf@a.test", spf=SpfOutcome(result, "example.org"))
    _refused_and_logged(store, hook, decision, f"SPF {result} for example.org")


def test_spf_pass_from_a_domain_outside_the_allowed_ones_is_refused() -> None:
    store = Store()
    hook, _ = store.guarded("spfd", allowed_spf_domains=(DomainName.parse("example.org"),))
    passing = SpfOutcome("pass", "mail.example.org")  # under an allowed domain
    assert isinstance(store.check("spfd@a.test", spf=passing), Accepted)
    decision = store.check("spfd@a.test", spf=SpfOutcome("pass", "example.net"))
    _refused_and_logged(store, hook, decision, "SPF domain example.net is not allowed")


def test_decide_recipient_reads_no_store_and_asks_spf_only_when_needed() -> None:
    store = Store()
    hook, policy = store.guarded("spf", require_spf=True)
    address = inbound.parse_recipient("spf@a.test")
    assert address is not None
    found = inbound.find_route(store.uow, address)
    calls: list[int] = []

    def spf() -> SpfOutcome:
        calls.append(1)
        return SpfOutcome("pass", "example.org")

    decision = inbound.decide_recipient(
        found, recipient="spf@a.test", remote_ip="x", authenticated_policies=(), spf=spf
    )
    assert decision == Accepted("spf@a.test", hook, policy)
    assert calls == [1]
    assert inbound.decide_recipient(
        None, recipient="spf@a.test", remote_ip="x", authenticated_policies=(), spf=spf
    ) == Refused(RefusalReason.UNKNOWN)
    assert calls == [1]


# -- after DATA ------------------------------------------------------------------------------

RAW = (
    b"From: Alice <alice@example.org>\n"  # bare LFs: normalised before anything reads them
    b"To: sales@a.test\n"
    b"Subject: hi\r\n"
    b"Message-ID: <m1@example.org>\n"
    b"\n"
    b"Message-ID: <not-this@example.org>\n"
    b"body\rline\n"
)
ENVELOPE = Envelope(
    mail_from=SENDER, rcpt_to=("sales@a.test",), remote_ip="203.0.113.5", helo="mail.example.org"
)


def _prepare(
    raw: bytes, accepted: list[Accepted], auth: AuthResults | None = None
) -> inbound.Prepared:
    return inbound.prepare_message(
        FixedClock(NOW),
        raw=raw,
        envelope=ENVELOPE,
        auth=auth or AuthResults(),
        accepted=accepted,
        hostname=HOST,
    )


def test_the_stored_message_has_our_received_header_on_top_and_crlf_line_ends() -> None:
    store = Store()
    sales = store.hooks["sales"]
    prepared = _prepare(RAW, [Accepted("sales@a.test", sales, None)])
    message = prepared.message
    assert message is not None
    received = (
        "Received: from mail.example.org ([203.0.113.5])\r\n"
        f"\tby {HOST} (hookmail) with ESMTP;\r\n"
        f"\t{format_datetime(NOW)}\r\n"
    ).encode()
    assert message.raw == received + (
        b"From: Alice <alice@example.org>\r\n"
        b"To: sales@a.test\r\n"
        b"Subject: hi\r\n"
        b"Message-ID: <m1@example.org>\r\n"
        b"\r\n"
        b"Message-ID: <not-this@example.org>\r\n"
        b"body\r\nline\r\n"
    )
    assert message.message_id == "<m1@example.org>"  # from the header, not the body
    assert (message.received_at, message.envelope) == (NOW, ENVELOPE)
    (job,) = prepared.jobs
    assert (job.webhook_id, job.message_id, job.recipients) == (
        sales.id,
        message.id,
        ("sales@a.test",),
    )
    assert prepared.refusals == ()


def test_a_folded_message_id_is_unfolded() -> None:
    store = Store()
    raw = b"Subject: x\r\nMessage-ID:\r\n <folded@example.org>\r\nTo: y\r\n\r\nbody\r\n"
    message = _prepare(raw, [Accepted("sales@a.test", store.hooks["sales"], None)]).message
    assert message is not None
    assert message.message_id == "<folded@example.org>"


def test_a_message_without_a_message_id_gets_one_made_up() -> None:
    store = Store()
    raw = b"Subject: x\r\n\r\nMessage-ID: <in-the-body@example.org>\r\n"
    message = _prepare(raw, [Accepted("sales@a.test", store.hooks["sales"], None)]).message
    assert message is not None
    assert message.message_id == f"<{message.id.hex}@hookmail.invalid>"
    assert message.raw.startswith(b"Received: from mail.example.org ")
    assert message.raw.endswith(raw)


def test_a_failing_dkim_policy_drops_its_recipient_and_keeps_the_others() -> None:
    store = Store()
    signed, _ = store.guarded("signed", require_dkim=True)
    sales = store.hooks["sales"]
    with store.uow.reading():
        route = store.uow.webhooks.routes(["signed@a.test"])["signed@a.test"]
    accepted = [
        Accepted("signed@a.test", signed, route.policy),
        Accepted("sales@a.test", sales, None),
        Accepted("sales+two@a.test", sales, None),
    ]
    auth = AuthResults(dkim=(DkimResult("example.org", "fail"),))
    prepared = _prepare(RAW, accepted, auth)
    assert prepared.message is not None
    (job,) = prepared.jobs
    assert (job.webhook_id, job.recipients) == (sales.id, ("sales@a.test", "sales+two@a.test"))
    (refusal,) = prepared.refusals
    assert refusal.webhook_id == signed.id
    assert refusal.error == "refused by SMTP security policy: no valid DKIM signature"
    assert refusal.smtp_message_id == "<m1@example.org>"
    inbound.commit_prepared(store.uow, [prepared])
    with store.uow.reading():
        assert store.uow.messages.get(prepared.message.id) == prepared.message
        assert store.uow.jobs.get(job.id) == job
    assert store.logs(signed) == [refusal]
    assert store.logs(sales) == []


def test_when_dkim_drops_every_recipient_no_message_is_stored_only_the_refusals() -> None:
    store = Store()
    one, _ = store.guarded(
        "one", require_dkim=True, allowed_dkim_domains=(DomainName.parse("example.com"),)
    )
    two, _ = store.guarded("two", allowed_dkim_domains=(DomainName.parse("example.org"),))
    with store.uow.reading():
        routes = store.uow.webhooks.routes(["one@a.test", "two@a.test"])
    accepted = [
        Accepted("one@a.test", one, routes["one@a.test"].policy),
        Accepted("two@a.test", two, routes["two@a.test"].policy),
    ]
    auth = AuthResults(dkim=(DkimResult("example.net", "pass"),))  # signed, not by example.org
    prepared = _prepare(RAW, accepted, auth)
    assert (prepared.message, prepared.jobs) == (None, ())
    assert len(prepared.refusals) == 2
    inbound.commit_prepared(store.uow, [prepared])
    with store.uow.reading():
        assert store.uow.messages.get_many(set()) == {}
        assert store.uow.jobs.pending() == 0
    for hook in (one, two):
        (log,) = store.logs(hook)
        assert log.error == (
            "refused by SMTP security policy: no valid DKIM signature from an allowed domain "
            "(signed by example.net)"
        )


# -- the whole path at once ------------------------------------------------------------------


def _receive(store: Store, rcpt_to: list[str], **kwargs: Any) -> inbound.Receipt:
    return inbound.receive(
        store.uow,
        store.clock,
        kwargs.pop("spf", StubSpf()),
        kwargs.pop("dkim", StubDkim()),
        raw=kwargs.pop("raw", RAW),
        mail_from=SENDER,
        rcpt_to=rcpt_to,
        remote_ip="203.0.113.5",
        helo="mail.example.org",
        hostname=HOST,
        **kwargs,
    )


def test_receive_stores_the_accepted_and_says_why_each_other_was_refused() -> None:
    store = Store()
    spf_hook, _ = store.guarded("spf", require_spf=True)
    dkim_hook, _ = store.guarded("dkim", require_dkim=True)
    receipt = _receive(
        store,
        ["sales@a.test", "nobody@a.test", "paused@a.test", "spf@a.test", "dkim@a.test"],
        spf=StubSpf({"example.org": "fail"}),
    )
    assert receipt.message is not None
    assert [a.recipient for a in receipt.accepted] == ["sales@a.test"]
    assert receipt.message.envelope.rcpt_to == ("sales@a.test", "dkim@a.test")  # as at RCPT
    assert receipt.refused == {
        "nobody@a.test": Refused(RefusalReason.UNKNOWN),
        "paused@a.test": Refused(RefusalReason.INACTIVE),
        "spf@a.test": Refused(RefusalReason.POLICY, "SPF fail for example.org"),
        "dkim@a.test": Refused(RefusalReason.POLICY, "the message is not DKIM-signed"),
    }
    assert len(store.logs(spf_hook)) == 1
    assert len(store.logs(dkim_hook)) == 1
    (job,) = receipt.jobs
    with store.uow.reading():
        assert store.uow.messages.get(receipt.message.id) == receipt.message
        assert store.uow.jobs.get(job.id) == job
    assert receipt.message.auth.spf == SpfOutcome("fail", "example.org")


def test_receive_with_no_recipient_accepted_stores_nothing() -> None:
    store = Store()
    receipt = _receive(store, ["nobody@a.test", "x@c.test"])
    assert (receipt.message, receipt.jobs, receipt.accepted) == (None, (), ())
    with store.uow.reading():
        assert store.uow.jobs.pending() == 0


def test_the_received_date_is_the_instant_in_its_own_zone_even_within_one_second() -> None:
    utc = datetime(2026, 12, 7, 23, 59, 59, 100, tzinfo=UTC)
    paris = utc.astimezone(timezone(timedelta(hours=1)))
    stamps = [
        received_header(helo="h", remote_ip="192.0.2.1", hostname="mx", now=when)
        for when in (utc, paris, utc.replace(microsecond=900_000), utc + timedelta(seconds=1))
    ]
    dates = [stamp.rsplit(b";\r\n\t", 1)[1].strip() for stamp in stamps]
    assert dates == [
        b"Mon, 07 Dec 2026 23:59:59 +0000",
        b"Tue, 08 Dec 2026 00:59:59 +0100",
        b"Mon, 07 Dec 2026 23:59:59 +0000",
        b"Tue, 08 Dec 2026 00:00:00 +0000",
    ]
