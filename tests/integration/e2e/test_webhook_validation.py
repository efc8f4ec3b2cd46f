"""Webhook settings that could never deliver are refused at save (422 naming the field);
international ones that can are accepted."""

from __future__ import annotations

from typing import Any

import pytest

from tests.dns_server import DnsServer
from tests.integration.e2e.conftest import Api

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


def _refused(result: Any, field: str) -> None:
    assert result.status_code == 422, result.text
    assert result.json["code"] == "validation_error"
    assert result.json["error"].startswith(field)  # "custom_headers: …" or "custom_headers.X: …"


@pytest.mark.parametrize("value", ["5 €", "ok 🙂", "line\r\nX-Injected: 1", "nul\0", "c1\x85"])
def test_a_header_value_http_cannot_carry_is_refused(api: Api, owner: str, value: str) -> None:
    _refused(_create(api, owner, custom_headers={"X-Note": value}), "custom_headers")


def test_printable_latin1_header_values_are_accepted_and_kept(api: Api, owner: str) -> None:
    headers = {"X-Note": "café\tcrème ±½ ÿ", "Authorization": "Bearer x"}
    result = _create(api, owner, custom_headers=headers)
    assert result.status_code == 201, result.text
    assert result.json["custom_headers"] == headers
    hook_id = result.json["id"]
    put = api.call("PUT", f"/api/v1/webhooks/{hook_id}", owner, json={"custom_headers": {"X": "€"}})
    _refused(put, "custom_headers")


@pytest.mark.parametrize(
    "template", ["{{> footer}}", "{{>/etc/passwd}}", "{{> ../../x}}", "a {{>\u0000}} b"]
)
def test_a_template_with_a_partial_is_refused(api: Api, owner: str, template: str) -> None:
    result = _create(api, owner, payload_template=template)
    _refused(result, "payload_template")
    if "\0" not in template:  # a NUL may be refused first, as any NUL in a text field
        assert "partials" in result.json["error"]


def test_an_international_target_url_is_accepted_as_given(api: Api, owner: str) -> None:
    url = "https://bücher.example/eingang/ä?x=ü"
    result = _create(api, owner, target_url=url)
    assert result.status_code == 201, result.text
    assert result.json["target_url"] == url


def test_a_host_that_is_no_international_domain_name_is_refused(api: Api, owner: str) -> None:
    _refused(_create(api, owner, target_url="https://a\u0301\u200d-.example/"), "target_url")


def test_an_smtputf8_address_is_accepted_in_one_normal_form(api: Api, owner: str) -> None:
    result = _create(api, owner, address="Jose\u0301@example.com")  # decomposed é
    assert result.status_code == 201, result.text
    assert result.json["address"] == "josé@example.com"
    assert _create(api, owner, address="josé@example.com").status_code == 409
    _refused(_create(api, owner, address="jo\u200bse@example.com"), "address")
