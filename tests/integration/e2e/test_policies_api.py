"""/api/v1/smtp-policies…"""

from __future__ import annotations

from typing import Any

import pytest

from tests.dns_server import DnsServer
from tests.integration.e2e.conftest import Api

pytestmark = pytest.mark.e2e

FULL = {
    "name": "Our relays",
    "require_smtp_auth": True,
    "smtp_credentials": "relay:s3cret-one\nbackup:s3cret-two",
    "allowed_source_ips": "192.0.2.0/24, 2001:db8::/32,198.51.100.7",
    "require_spf": True,
    "allowed_spf_domains": "Example.org",
    "require_dkim": True,
    "allowed_dkim_domains": "example.org,mailer.example.net",
}


def _create(api: Api, token: str, **body: Any) -> Any:
    return api.call("POST", "/api/v1/smtp-policies", token, json=body or FULL)


def test_a_policy_is_created_with_credentials_masked(api: Api) -> None:
    token = api.new_user()
    result = _create(api, token)
    assert result.status_code == 201
    policy = result.json
    assert policy["smtp_credentials"] == "relay:********,backup:********"
    assert "s3cret" not in result.text
    assert policy["allowed_source_ips"] == "192.0.2.0/24,2001:db8::/32,198.51.100.7"
    assert policy["allowed_spf_domains"] == "example.org"
    assert policy["allowed_dkim_domains"] == "example.org,mailer.example.net"
    assert (policy["require_smtp_auth"], policy["require_spf"], policy["require_dkim"]) == (
        True,
        True,
        True,
    )
    assert api.call("GET", f"/api/v1/smtp-policies/{policy['id']}", token).json == policy
    assert api.call("GET", "/api/v1/smtp-policies", token).json == [policy]


def test_a_minimal_policy_needs_only_a_name(api: Api) -> None:
    result = _create(api, api.new_user(), name="open")
    assert result.status_code == 201
    assert result.json["smtp_credentials"] == ""
    assert result.json["require_smtp_auth"] is False


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 101}, "name"),
        ({}, "name"),
        ({"name": "p", "require_smtp_auth": True}, "smtp_credentials"),
        ({"name": "p", "smtp_credentials": "nopassword"}, "smtp_credentials"),
        ({"name": "p", "allowed_source_ips": "10.0.0.0/33"}, "allowed_source_ips"),
        ({"name": "p", "allowed_spf_domains": "not a domain"}, "allowed_spf_domains"),
        ({"name": "p", "allowed_dkim_domains": "localhost"}, "allowed_dkim_domains"),
        ({"name": "p", "require_spf": "yes"}, "require_spf"),
    ],
)
def test_bad_fields_are_422_naming_them(api: Api, body: dict[str, Any], field: str) -> None:
    result = api.call("POST", "/api/v1/smtp-policies", api.new_user(), json=body)
    assert (result.status_code, result.json["code"]) == (422, "validation_error")
    assert field in result.json["error"]


def test_an_update_changes_what_it_carries_and_masked_pairs_keep_passwords(api: Api) -> None:
    token = api.new_user()
    policy = _create(api, token).json
    path = f"/api/v1/smtp-policies/{policy['id']}"
    updated = api.call(
        "PUT",
        path,
        token,
        json={
            "smtp_credentials": "relay:********,newuser:fresh-pass",
            "require_dkim": False,
        },
    )
    assert updated.status_code == 200
    assert updated.json["smtp_credentials"] == "relay:********,newuser:********"
    assert updated.json["require_dkim"] is False
    assert updated.json["name"] == "Our relays"
    assert updated.json["allowed_source_ips"] == policy["allowed_source_ips"]
    unknown = api.call("PUT", path, token, json={"smtp_credentials": "ghost:********"})
    assert unknown.status_code == 422
    emptied = api.call("PUT", path, token, json={"smtp_credentials": ""})
    assert emptied.status_code == 422  # require_smtp_auth is still on
    assert api.call("PUT", path, token, json={"name": ""}).status_code == 422


def test_a_policy_in_use_cannot_be_deleted(api: Api, dns: DnsServer) -> None:
    token = api.new_user()
    api.verified_domain(token, "example.com", dns)
    policy = _create(api, token).json
    hook = api.call(
        "POST",
        "/api/v1/webhooks",
        token,
        json={
            "address": "in@example.com",
            "target_url": "https://h.example.net/",
            "smtp_security_policy_id": policy["id"],
        },
    ).json
    path = f"/api/v1/smtp-policies/{policy['id']}"
    busy = api.call("DELETE", path, token)
    assert (busy.status_code, busy.json["code"]) == (409, "policy_in_use")
    api.call("PUT", f"/api/v1/webhooks/{hook['id']}", token, json={"clear_security_policy": True})
    assert api.call("DELETE", path, token).status_code == 204
    assert api.call("GET", path, token).status_code == 404
    assert api.call("DELETE", path, token).status_code == 404


def test_policies_need_a_signed_in_account(api: Api) -> None:
    assert api.call("GET", "/api/v1/smtp-policies").status_code == 401
    assert api.call("POST", "/api/v1/smtp-policies", json=FULL).status_code == 401
