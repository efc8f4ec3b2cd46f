"""Another account's objects are 404, exactly like missing ones, and never listed."""

from __future__ import annotations

import pytest

from tests.dns_server import DnsServer
from tests.integration.e2e.conftest import Api

pytestmark = pytest.mark.e2e


def test_a_second_account_sees_nothing_of_the_first(api: Api, dns: DnsServer) -> None:
    alice = api.new_user("alice@example.com")
    domain = api.verified_domain(alice, "alice.example", dns)
    pending = api.call("POST", "/api/v1/domains", alice, json={"name": "pending.example"}).json
    policy = api.call("POST", "/api/v1/smtp-policies", alice, json={"name": "p"}).json
    hook = api.call(
        "POST",
        "/api/v1/webhooks",
        alice,
        json={
            "address": "in@alice.example",
            "target_url": "https://h.example.net/",
            "smtp_security_policy_id": policy["id"],
        },
    ).json
    log_id = "00000000-0000-0000-0000-000000000001"

    mallory = api.new_user("mallory@example.com")
    missing = "00000000-0000-0000-0000-00000000dead"
    probes = [
        ("GET", f"/api/v1/domains/{domain['id']}", None),
        ("DELETE", f"/api/v1/domains/{domain['id']}", None),
        ("POST", f"/api/v1/domains/{domain['id']}/verify", None),
        ("POST", f"/api/v1/domains/{pending['id']}/verify", None),
        ("GET", f"/api/v1/smtp-policies/{policy['id']}", None),
        ("PUT", f"/api/v1/smtp-policies/{policy['id']}", {"name": "mine now"}),
        ("DELETE", f"/api/v1/smtp-policies/{policy['id']}", None),
        ("GET", f"/api/v1/webhooks/{hook['id']}", None),
        ("PUT", f"/api/v1/webhooks/{hook['id']}", {"target_url": "https://evil.example/"}),
        ("DELETE", f"/api/v1/webhooks/{hook['id']}", None),
        ("GET", f"/api/v1/webhooks/{hook['id']}/logs", None),
        ("GET", f"/api/v1/webhooks/{hook['id']}/logs/{log_id}", None),
    ]
    for method, path, body in probes:
        theirs = api.call(method, path, mallory, json=body)
        nothing = api.call(method, path.replace(path.split("/")[4], missing), mallory, json=body)
        assert (theirs.status_code, theirs.json) == (404, nothing.json), (method, path)
        assert theirs.json["code"] == "not_found"

    for listing in ("/api/v1/domains", "/api/v1/smtp-policies", "/api/v1/webhooks"):
        ids = {item["id"] for item in api.call("GET", listing, mallory).json}
        assert not ids & {domain["id"], pending["id"], policy["id"], hook["id"]}, listing

    # nor can the first account's policy be borrowed, or its domain used
    api.verified_domain(mallory, "mallory.example", dns)
    borrowed = api.call(
        "POST",
        "/api/v1/webhooks",
        mallory,
        json={
            "address": "x@mallory.example",
            "target_url": "https://h.example.net/",
            "smtp_security_policy_id": policy["id"],
        },
    )
    assert borrowed.status_code == 422
    squat = api.call(
        "POST",
        "/api/v1/webhooks",
        mallory,
        json={"address": "y@alice.example", "target_url": "https://h.example.net/"},
    )
    assert squat.status_code == 422

    # and everything of alice's is still there, unchanged
    assert api.call("GET", f"/api/v1/webhooks/{hook['id']}", alice).json == hook
    assert api.call("GET", f"/api/v1/smtp-policies/{policy['id']}", alice).json == policy
