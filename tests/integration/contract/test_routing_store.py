"""The store contract for domains, policies, webhooks and logs, on the fake, SQLite and PG."""

from __future__ import annotations

from datetime import timedelta
from ipaddress import ip_network

import pytest
from attrs import evolve

from hookmail.core.accounts import Account
from hookmail.core.domains import DomainName
from hookmail.core.errors import AddressTaken, DomainTaken
from hookmail.core.ports import UnitOfWork
from hookmail.core.smtp_policies import Credential
from tests.builders import NOW, a_domain, a_log, a_policy, a_webhook, an_account


def _accounts(uow: UnitOfWork, count: int = 1) -> list[Account]:
    made = [an_account() for _ in range(count)]
    with uow:
        for account in made:
            uow.accounts.add(account)
        uow.commit()
    return made


def test_a_domain_round_trips(uow: UnitOfWork) -> None:
    (account,) = _accounts(uow)
    domain = a_domain(account.id, "mail.example.com")
    public = a_domain(None, "inbound.example.net")
    with uow:
        uow.domains.save(domain)
        uow.domains.save(public)
        uow.commit()
    with uow:
        assert uow.domains.get(domain.id) == domain
        assert uow.domains.named(DomainName("mail.example.com")) == [domain]
        assert uow.domains.public() == [public]
        assert {d.id for d in uow.domains.visible_to(account.id)} == {domain.id, public.id}


def test_several_accounts_may_claim_a_name_but_one_verifies_it(uow: UnitOfWork) -> None:
    alice, bob = _accounts(uow, 2)
    mine, theirs = a_domain(alice.id), a_domain(bob.id)
    with uow:
        uow.domains.save(mine)
        uow.domains.save(theirs)
        uow.domains.save(mine.verify(NOW))
        uow.commit()
    with uow, pytest.raises(DomainTaken):
        uow.domains.save(theirs.verify(NOW))


def test_one_account_claims_a_name_once(uow: UnitOfWork) -> None:
    (alice,) = _accounts(uow)
    with uow:
        uow.domains.save(a_domain(alice.id))
        uow.commit()
    with uow, pytest.raises(DomainTaken):
        uow.domains.save(a_domain(alice.id))


def test_deleting_a_domain_deletes_its_webhooks_and_their_logs(uow: UnitOfWork) -> None:
    (alice,) = _accounts(uow)
    domain = a_domain(alice.id, verified=True)
    webhook = a_webhook(domain, alice.id)
    log = a_log(webhook.id)
    with uow:
        uow.domains.save(domain)
        uow.webhooks.save(webhook)
        uow.delivery_logs.add(log)
        uow.commit()
    with uow:
        uow.domains.delete(domain.id)
        uow.commit()
    with uow:
        assert uow.domains.get(domain.id) is None
        assert uow.webhooks.get(webhook.id) is None
        assert uow.delivery_logs.get(webhook.id, log.id) is None


def test_a_policy_round_trips(uow: UnitOfWork) -> None:
    (alice,) = _accounts(uow)
    policy = a_policy(
        alice.id,
        require_smtp_auth=True,
        smtp_credentials=(Credential("relay", "hash-1"), Credential("backup", "hash-2")),
        allowed_source_ips=(ip_network("192.0.2.0/24"), ip_network("2001:db8::/32")),
        require_spf=True,
        allowed_spf_domains=(DomainName("example.org"),),
        require_dkim=True,
        allowed_dkim_domains=(DomainName("example.org"), DomainName("mailer.example.net")),
    )
    with uow:
        uow.policies.save(policy)
        uow.commit()
    with uow:
        assert uow.policies.get(policy.id) == policy
        assert uow.policies.of_account(alice.id) == [policy]


def test_a_webhook_round_trips_and_is_found_by_address(uow: UnitOfWork) -> None:
    (alice,) = _accounts(uow)
    domain = a_domain(alice.id, verified=True)
    policy = a_policy(alice.id)
    webhook = a_webhook(
        domain,
        alice.id,
        custom_headers={"X-Team": "sales", "Authorization": "Bearer t"},
        payload_template='{"s": "{{subject}}"}',
        rate_limit=5,
        active=False,
        smtp_security_policy_id=policy.id,
        previous_secret="whsec_old",
        previous_secret_until=NOW + timedelta(hours=24),
    )
    catch_all = a_webhook(domain, alice.id, local="*")
    with uow:
        uow.domains.save(domain)
        uow.policies.save(policy)
        uow.webhooks.save(webhook)
        uow.webhooks.save(catch_all)
        uow.commit()
    with uow:
        assert uow.webhooks.get(webhook.id) == webhook
        found = uow.webhooks.routes(["inbox@example.com", "*@example.com", "x@y.org"])
        assert {a: r.webhook for a, r in found.items()} == {
            "inbox@example.com": webhook,
            "*@example.com": catch_all,
        }
        assert uow.webhooks.using_policy(policy.id) == 1
        assert {w.id for w in uow.webhooks.of_account(alice.id)} == {webhook.id, catch_all.id}


def test_an_address_has_one_webhook(uow: UnitOfWork) -> None:
    (alice,) = _accounts(uow)
    domain = a_domain(alice.id, verified=True)
    with uow:
        uow.domains.save(domain)
        uow.webhooks.save(a_webhook(domain, alice.id))
        uow.commit()
    with uow, pytest.raises(AddressTaken):
        uow.webhooks.save(a_webhook(domain, alice.id))


def test_logs_are_paged_newest_first(uow: UnitOfWork) -> None:
    (alice,) = _accounts(uow)
    domain = a_domain(alice.id, verified=True)
    webhook, other = a_webhook(domain, alice.id), a_webhook(domain, alice.id, local="other")
    logs = [
        a_log(webhook.id, attempted_at=NOW + timedelta(seconds=n), attempt=n + 1) for n in range(5)
    ]
    with uow:
        uow.domains.save(domain)
        uow.webhooks.save(webhook)
        uow.webhooks.save(other)
        for log in logs:
            uow.delivery_logs.add(log)
        uow.delivery_logs.add(a_log(other.id))
        uow.commit()
    with uow:
        first = uow.delivery_logs.of_webhook(webhook.id, offset=0, limit=2)
        last = uow.delivery_logs.of_webhook(webhook.id, offset=4, limit=2)
        assert [g.attempt for g in first] == [5, 4]
        assert [g.attempt for g in last] == [1]
        assert uow.delivery_logs.get(webhook.id, logs[0].id) == logs[0]
        assert uow.delivery_logs.get(other.id, logs[0].id) is None


def test_deleting_an_account_deletes_everything_it_owns(uow: UnitOfWork) -> None:
    alice, bob = _accounts(uow, 2)
    domain = a_domain(alice.id, verified=True)
    policy = a_policy(alice.id)
    webhook = a_webhook(domain, alice.id, smtp_security_policy_id=policy.id)
    bobs = a_domain(bob.id, "bob.example")
    with uow:
        uow.domains.save(domain)
        uow.domains.save(bobs)
        uow.policies.save(policy)
        uow.webhooks.save(webhook)
        uow.delivery_logs.add(a_log(webhook.id))
        uow.commit()
    with uow:
        uow.accounts.delete(alice.id)
        uow.commit()
    with uow:
        assert uow.domains.get(domain.id) is None
        assert uow.policies.get(policy.id) is None
        assert uow.webhooks.get(webhook.id) is None
        assert uow.domains.get(bobs.id) == bobs


def test_deleting_a_policy_detaches_it(uow: UnitOfWork) -> None:
    (alice,) = _accounts(uow)
    domain = a_domain(alice.id, verified=True)
    policy = a_policy(alice.id)
    webhook = a_webhook(domain, alice.id, smtp_security_policy_id=policy.id)
    with uow:
        uow.domains.save(domain)
        uow.policies.save(policy)
        uow.webhooks.save(webhook)
        uow.commit()
    with uow:
        uow.policies.delete(policy.id)
        uow.commit()
    with uow:
        assert uow.webhooks.get(webhook.id) == evolve(webhook, smtp_security_policy_id=None)


def test_routes_carry_each_webhooks_domain_and_policy(uow: UnitOfWork) -> None:
    (alice,) = _accounts(uow)
    domain = a_domain(alice.id, verified=True)
    policy = a_policy(alice.id, require_spf=True)
    guarded = a_webhook(domain, alice.id, smtp_security_policy_id=policy.id)
    open_hook = a_webhook(domain, alice.id, local="*")
    with uow:
        uow.domains.save(domain)
        uow.policies.save(policy)
        uow.webhooks.save(guarded)
        uow.webhooks.save(open_hook)
        uow.commit()
    with uow.reading():
        found = uow.webhooks.routes(["inbox@example.com", "*@example.com", "x@nowhere.org"])
    assert set(found) == {"inbox@example.com", "*@example.com"}
    assert (
        found["inbox@example.com"].webhook,
        found["inbox@example.com"].domain,
        found["inbox@example.com"].policy,
    ) == (guarded, domain, policy)
    assert found["*@example.com"].policy is None
    with uow.reading():  # more addresses than one statement takes at once
        many = uow.webhooks.routes(["a@x.org", "b@x.org", "c@x.org", "*@example.com"])
    assert set(many) == {"*@example.com"}


def test_a_domain_has_tagged_addresses_only_once_a_webhook_has_one(uow: UnitOfWork) -> None:
    alice, bob = _accounts(uow, 2)
    mine = a_domain(alice.id, "mail.example.com", verified=True)
    other = a_domain(bob.id, "other.example.com", verified=True)
    with uow:
        uow.domains.save(mine)
        uow.domains.save(other)
        uow.webhooks.save(a_webhook(mine, alice.id, local="inbox"))
        uow.webhooks.save(a_webhook(mine, alice.id, local="*"))
        uow.webhooks.save(a_webhook(other, bob.id, local="vip+gold"))  # another domain's
        uow.commit()
    with uow.reading():
        assert not uow.webhooks.has_tagged("mail.example.com")
        assert uow.webhooks.has_tagged("other.example.com")
        assert not uow.webhooks.has_tagged("nowhere.example.org")
    with uow:
        uow.webhooks.save(a_webhook(mine, alice.id, local="inbox+vip"))
        uow.commit()
    with uow.reading():
        assert uow.webhooks.has_tagged("mail.example.com")
