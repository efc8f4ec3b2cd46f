"""/api/v1/domains…: claims, DNS TXT proof against a real DNS server, public domains."""

from __future__ import annotations

import pytest

from tests.dns_server import DnsServer
from tests.integration.e2e.conftest import PUBLIC_DOMAIN, Api

pytestmark = pytest.mark.e2e


def test_a_claim_is_unverified_with_a_token_to_publish(api: Api) -> None:
    token = api.new_user()
    result = api.call("POST", "/api/v1/domains", token, json={"name": "Mail.Example.COM"})
    assert result.status_code == 201
    domain = result.json
    assert domain["name"] == "mail.example.com"
    assert domain["verified"] is False
    assert domain["is_public"] is False
    assert domain["account_id"] == api.call("GET", "/api/v1/accounts/me", token).json["id"]
    assert len(domain["verification_token"]) >= 32
    assert api.call("GET", f"/api/v1/domains/{domain['id']}", token).json == domain


def test_idn_names_are_stored_ascii(api: Api) -> None:
    token = api.new_user()
    result = api.call("POST", "/api/v1/domains", token, json={"name": "bücher.example"})
    assert result.json["name"] == "xn--bcher-kva.example"


@pytest.mark.parametrize("name", ["localhost", "example.com.", "192.0.2.1", "", "a..b.com"])
def test_bad_names_are_422(api: Api, name: str) -> None:
    token = api.new_user()
    result = api.call("POST", "/api/v1/domains", token, json={"name": name})
    assert (result.status_code, result.json["code"]) == (422, "validation_error")
    assert "name" in result.json["error"]


def test_domains_need_a_signed_in_account(api: Api) -> None:
    assert api.call("GET", "/api/v1/domains").status_code == 401
    assert api.call("POST", "/api/v1/domains", json={"name": "example.com"}).status_code == 401


def test_verification_reads_the_txt_record(api: Api, dns: DnsServer) -> None:
    token = api.new_user()
    domain = api.call("POST", "/api/v1/domains", token, json={"name": "example.com"}).json
    verify = f"/api/v1/domains/{domain['id']}/verify"

    missing = api.call("POST", verify, token)
    assert (missing.status_code, missing.json["code"]) == (422, "dns_verification_failed")
    assert "no TXT record found at _hookmail.example.com" in missing.json["error"]
    assert f"hookmail-verify={domain['verification_token']}" in missing.json["error"]

    dns.zone.txt["_hookmail.example.com"] = ["hookmail-verify=somebody-elses"]
    wrong = api.call("POST", verify, token)
    assert (wrong.status_code, wrong.json["code"]) == (422, "dns_verification_failed")
    assert "do not include the expected value" in wrong.json["error"]

    dns.zone.failing.add("_hookmail.example.com")
    broken = api.call("POST", verify, token)
    assert (broken.status_code, broken.json["code"]) == (422, "dns_verification_failed")
    assert "DNS lookup" in broken.json["error"]
    dns.zone.failing.clear()

    dns.zone.txt["_hookmail.example.com"] = [
        "v=spf1 -all",
        f"hookmail-verify={domain['verification_token']}",
    ]
    done = api.call("POST", verify, token)
    assert done.status_code == 200
    assert done.json["verified"] is True
    assert ("_hookmail.example.com", "TXT") in dns.zone.queries


def test_several_accounts_may_claim_until_one_verifies(api: Api, dns: DnsServer) -> None:
    alice, bob = api.new_user("alice@example.com"), api.new_user("bob@example.com")
    bobs = api.call("POST", "/api/v1/domains", bob, json={"name": "shared.example"})
    assert bobs.status_code == 201
    api.verified_domain(alice, "shared.example", dns)
    late = api.call("POST", f"/api/v1/domains/{bobs.json['id']}/verify", bob)
    assert (late.status_code, late.json["code"]) == (409, "domain_taken")
    again = api.call("POST", "/api/v1/domains", bob, json={"name": "shared.example"})
    assert (again.status_code, again.json["code"]) == (409, "domain_taken")


def test_an_account_claims_a_name_once(api: Api) -> None:
    token = api.new_user()
    api.call("POST", "/api/v1/domains", token, json={"name": "example.com"})
    twice = api.call("POST", "/api/v1/domains", token, json={"name": "EXAMPLE.com"})
    assert (twice.status_code, twice.json["code"]) == (409, "domain_taken")


def test_public_domains_are_listed_for_everyone_and_cannot_be_deleted(api: Api) -> None:
    token = api.new_user()
    own = api.call("POST", "/api/v1/domains", token, json={"name": "example.com"}).json
    listed = api.call("GET", "/api/v1/domains", token).json
    public = next(d for d in listed if d["is_public"])
    assert public["name"] == PUBLIC_DOMAIN
    assert public["verified"] is True
    assert public["account_id"] is None
    assert {d["id"] for d in listed} == {own["id"], public["id"]}
    assert api.call("GET", f"/api/v1/domains/{public['id']}", token).status_code == 200
    assert api.call("DELETE", f"/api/v1/domains/{public['id']}", token).status_code == 404
    taken = api.call("POST", "/api/v1/domains", token, json={"name": PUBLIC_DOMAIN})
    assert (taken.status_code, taken.json["code"]) == (409, "domain_taken")


def test_deleting_a_domain_deletes_its_webhooks(api: Api, dns: DnsServer) -> None:
    token = api.new_user()
    domain = api.verified_domain(token, "example.com", dns)
    hook = api.call(
        "POST",
        "/api/v1/webhooks",
        token,
        json={"address": "in@example.com", "target_url": "https://h.example.net/"},
    )
    assert hook.status_code == 201
    assert api.call("DELETE", f"/api/v1/domains/{domain['id']}", token).status_code == 204
    assert api.call("GET", f"/api/v1/domains/{domain['id']}", token).status_code == 404
    assert api.call("GET", f"/api/v1/webhooks/{hook.json['id']}", token).status_code == 404
    assert api.call("DELETE", f"/api/v1/domains/{domain['id']}", token).status_code == 404


def test_unknown_and_malformed_ids_are_404(api: Api) -> None:
    token = api.new_user()
    for path in (
        "/api/v1/domains/00000000-0000-0000-0000-000000000000",
        "/api/v1/domains/nope",
        "/api/v1/domains/00000000-0000-0000-0000-000000000000/verify",
    ):
        method = "POST" if path.endswith("verify") else "GET"
        result = api.call(method, path, token)
        assert (result.status_code, result.json["code"]) == (404, "not_found")
