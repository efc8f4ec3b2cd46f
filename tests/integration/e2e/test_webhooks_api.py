"""/api/v1/webhooks… and their delivery logs."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest

from hookmail.core.deliveries import DeliveryStatus
from tests.builders import NOW, a_log
from tests.dns_server import DnsServer
from tests.integration.e2e.conftest import PUBLIC_DOMAIN, Api

pytestmark = pytest.mark.e2e
TARGET = "https://hooks.example.net/in"


@pytest.fixture
def owner(api: Api, dns: DnsServer) -> str:
    token = api.new_user("owner@example.com")
    api.verified_domain(token, "example.com", dns)
    return token


def _create(api: Api, token: str, **body: Any) -> Any:
    body = {"address": "sales@example.com", "target_url": TARGET, **body}
    return api.call("POST", "/api/v1/webhooks", token, json=body)


def test_a_webhook_gets_a_generated_secret_and_defaults(api: Api, owner: str) -> None:
    result = _create(api, owner, address="Sales@Example.com")
    assert result.status_code == 201
    hook = result.json
    assert hook["address"] == "sales@example.com"
    assert hook["secret"].startswith("whsec_")
    assert (hook["active"], hook["rate_limit"], hook["custom_headers"]) == (True, 0, {})
    assert hook["payload_template"] is None
    assert hook["smtp_security_policy_id"] is None
    assert api.call("GET", f"/api/v1/webhooks/{hook['id']}", owner).json == hook
    assert api.call("GET", "/api/v1/webhooks", owner).json == [hook]


def test_every_field_can_be_given(api: Api, owner: str) -> None:
    policy = api.call("POST", "/api/v1/smtp-policies", owner, json={"name": "p"}).json
    result = _create(
        api,
        owner,
        secret="a-secret-of-at-least-24-chars",
        active=False,
        custom_headers={"Authorization": "Bearer xyz", "X-Team": "sales"},
        payload_template='{"subject": "{{subject}}"}',
        rate_limit=30,
        smtp_security_policy_id=policy["id"],
    )
    assert result.status_code == 201
    hook = result.json
    assert hook["secret"] == "a-secret-of-at-least-24-chars"
    assert hook["custom_headers"] == {"Authorization": "Bearer xyz", "X-Team": "sales"}
    assert hook["payload_template"] == '{"subject": "{{subject}}"}'
    assert (hook["active"], hook["rate_limit"]) == (False, 30)
    assert hook["smtp_security_policy_id"] == policy["id"]


def test_catch_alls_and_public_domains_are_allowed(api: Api, owner: str) -> None:
    assert _create(api, owner, address="*@example.com").status_code == 201
    assert _create(api, owner, address=f"me@{PUBLIC_DOMAIN}").status_code == 201


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"address": "sales@unclaimed.example"}, "address"),
        ({"address": "not-an-address"}, "address"),
        ({"target_url": "ftp://example.com/"}, "target_url"),
        ({"target_url": "https://example.com/" + "x" * 2048}, "target_url"),
        ({"secret": "short"}, "secret"),
        ({"custom_headers": {"Host": "evil"}}, "custom_headers"),
        ({"custom_headers": {"webhook-id": "x"}}, "custom_headers"),
        ({"custom_headers": {"X-N": 1}}, "custom_headers"),
        ({"payload_template": "{{#broken}}"}, "payload_template"),
        ({"rate_limit": -1}, "rate_limit"),
        ({"rate_limit": "10"}, "rate_limit"),
        ({"active": "yes"}, "active"),
        (
            {"smtp_security_policy_id": "00000000-0000-0000-0000-000000000000"},
            "smtp_security_policy_id",
        ),
        ({"smtp_security_policy_id": "not-a-uuid"}, "smtp_security_policy_id"),
    ],
)
def test_bad_fields_are_422_naming_them(
    api: Api, owner: str, body: dict[str, Any], field: str
) -> None:
    result = _create(api, owner, **body)
    assert (result.status_code, result.json["code"]) == (422, "validation_error")
    assert field in result.json["error"]


def test_an_unverified_domain_cannot_take_webhooks(api: Api, owner: str) -> None:
    api.call("POST", "/api/v1/domains", owner, json={"name": "pending.example"})
    result = _create(api, owner, address="a@pending.example")
    assert result.status_code == 422


def test_an_address_is_unique_across_accounts(api: Api, owner: str) -> None:
    assert _create(api, owner, address=f"x@{PUBLIC_DOMAIN}").status_code == 201
    other = api.new_user("other@example.com")
    taken = _create(api, other, address=f"X@{PUBLIC_DOMAIN}")
    assert (taken.status_code, taken.json["code"]) == (409, "address_taken")


def test_put_changes_only_what_it_carries(api: Api, owner: str) -> None:
    policy = api.call("POST", "/api/v1/smtp-policies", owner, json={"name": "p"}).json
    hook = _create(api, owner, custom_headers={"X-A": "1"}, smtp_security_policy_id=policy["id"])
    path = f"/api/v1/webhooks/{hook.json['id']}"
    api.clock.advance(seconds=5)
    updated = api.call("PUT", path, owner, json={"rate_limit": 7, "active": False})
    assert updated.status_code == 200
    expected = {
        **hook.json,
        "rate_limit": 7,
        "active": False,
        "updated_at": updated.json["updated_at"],
    }
    assert updated.json == expected
    assert updated.json["updated_at"] > hook.json["updated_at"]
    cleared = api.call("PUT", path, owner, json={"clear_security_policy": True})
    assert cleared.json["smtp_security_policy_id"] is None
    both = api.call(
        "PUT",
        path,
        owner,
        json={"clear_security_policy": True, "smtp_security_policy_id": policy["id"]},
    )
    assert both.status_code == 422
    moved = api.call("PUT", path, owner, json={"address": "*@example.com"})
    assert moved.json["address"] == "*@example.com"
    bad = api.call("PUT", path, owner, json={"target_url": "nope"})
    assert bad.status_code == 422


def test_put_to_a_taken_address_is_409(api: Api, owner: str) -> None:
    _create(api, owner, address="a@example.com")
    b = _create(api, owner, address="b@example.com").json
    clash = api.call("PUT", f"/api/v1/webhooks/{b['id']}", owner, json={"address": "a@example.com"})
    assert (clash.status_code, clash.json["code"]) == (409, "address_taken")


def test_a_changed_secret_is_answered(api: Api, owner: str) -> None:
    hook = _create(api, owner).json
    new = "whsec_" + "A" * 44
    result = api.call("PUT", f"/api/v1/webhooks/{hook['id']}", owner, json={"secret": new})
    assert result.json["secret"] == new


def test_delete_removes_the_webhook(api: Api, owner: str) -> None:
    hook = _create(api, owner).json
    assert api.call("DELETE", f"/api/v1/webhooks/{hook['id']}", owner).status_code == 204
    assert api.call("GET", f"/api/v1/webhooks/{hook['id']}", owner).status_code == 404
    assert api.call("DELETE", f"/api/v1/webhooks/{hook['id']}", owner).status_code == 404
    assert _create(api, owner).status_code == 201  # the address is free again


def _seed_logs(api: Api, webhook_id: str, count: int) -> list[str]:
    """Delivery logs come from the mail pipeline; here they go in through the store port."""
    uow = api.uow()
    logs = [
        a_log(
            UUID(webhook_id),
            attempted_at=NOW + timedelta(seconds=n),
            attempt=n + 1,
            http_status=500 if n % 2 else 200,
            error="HTTP 500" if n % 2 else None,
            status=DeliveryStatus.RETRYING if n % 2 else DeliveryStatus.DELIVERED,
        )
        for n in range(count)
    ]
    with uow:
        for log in logs:
            uow.delivery_logs.add(log)
        uow.commit()
    return [str(log.id) for log in reversed(logs)]


def test_logs_are_listed_newest_first_in_pages(api: Api, owner: str) -> None:
    hook = _create(api, owner).json
    ids = _seed_logs(api, hook["id"], 25)
    base = f"/api/v1/webhooks/{hook['id']}/logs"
    first = api.call("GET", base, owner)
    assert first.status_code == 200
    assert [g["id"] for g in first.json] == ids[:20]
    second = api.call("GET", base, owner, params={"page": "2", "page_size": "20"})
    assert [g["id"] for g in second.json] == ids[20:]
    small = api.call("GET", base, owner, params={"page": "3", "page_size": "2"})
    assert [g["id"] for g in small.json] == ids[4:6]
    assert api.call("GET", base, owner, params={"page": "9"}).json == []
    row = first.json[0]
    assert set(row) >= {
        "id",
        "webhook_id",
        "attempted_at",
        "duration_ms",
        "http_status",
        "error",
        "sender",
        "smtp_message_id",
        "attempt",
        "status",
        "next_attempt_at",
    }
    one = api.call("GET", f"{base}/{row['id']}", owner)
    assert one.json == row


@pytest.mark.parametrize(
    "params",
    [
        {"page": "0"},
        {"page": "-1"},
        {"page": "x"},
        {"page_size": "0"},
        {"page_size": "101"},
        {"page_size": "ten"},
    ],
)
def test_bad_paging_is_422(api: Api, owner: str, params: dict[str, str]) -> None:
    hook = _create(api, owner).json
    result = api.call("GET", f"/api/v1/webhooks/{hook['id']}/logs", owner, params=params)
    assert (result.status_code, result.json["code"]) == (422, "validation_error")
    assert next(iter(params)) in result.json["error"]


def test_a_log_of_another_webhook_is_404(api: Api, owner: str) -> None:
    a = _create(api, owner, address="a@example.com").json
    b = _create(api, owner, address="b@example.com").json
    (log_id,) = _seed_logs(api, a["id"], 1)
    assert api.call("GET", f"/api/v1/webhooks/{b['id']}/logs/{log_id}", owner).status_code == 404
    missing = f"/api/v1/webhooks/{a['id']}/logs/00000000-0000-0000-0000-000000000000"
    assert api.call("GET", missing, owner).status_code == 404
    gone = "/api/v1/webhooks/00000000-0000-0000-0000-000000000000/logs"
    assert api.call("GET", gone, owner).status_code == 404


def test_webhooks_need_a_signed_in_account(api: Api) -> None:
    assert api.call("GET", "/api/v1/webhooks").status_code == 401
    assert api.call("POST", "/api/v1/webhooks", json={}).status_code == 401
