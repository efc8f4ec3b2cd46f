"""The dashboard's forms come from the API's request classes; posted text becomes their values."""

from __future__ import annotations

from uuid import uuid4

import pytest

from hookmail.core.errors import InvalidField
from hookmail.entrypoints.http.schemas import (
    CreateWebhookRequest,
    UpdateSmtpSecurityPolicyRequest,
    UpdateWebhookRequest,
)
from hookmail.entrypoints.web import forms


def test_every_request_field_becomes_a_labelled_control() -> None:
    fields = {f.name: f for f in forms.fields(UpdateWebhookRequest, {})}
    assert fields["address"].label == "Address"
    assert fields["target_url"].label == "Target URL"
    assert fields["custom_headers"].kind == "textarea"
    assert fields["rate_limit"].kind == "number"
    assert fields["active"].kind == "checkbox"
    assert fields["delivery_mode"].kind == "select"  # the schema's enum
    assert ("queue", "queue") in fields["delivery_mode"].options
    assert fields["payload_format"].kind == "select"  # an enum type
    assert ("raw", "raw") in fields["payload_format"].options


def test_a_view_fills_the_form() -> None:
    view = {"custom_headers": {"X-A": "1", "X-B": "two"}, "active": True, "rate_limit": 5}
    fields = {f.name: f for f in forms.fields(UpdateWebhookRequest, view)}
    assert fields["custom_headers"].value == "X-A: 1\nX-B: two"
    assert fields["active"].checked
    assert fields["rate_limit"].value == "5"


def test_posted_text_becomes_the_request() -> None:
    policy = uuid4()
    given = forms.structure(
        CreateWebhookRequest,
        {
            "address": "a@example.com",
            "target_url": "https://example.net/hook",
            "custom_headers": "X-A: 1\r\n\r\nX-B:  two ",
            "rate_limit": " 7 ",
            "smtp_security_policy_id": str(policy),
            "active__shown": "1",  # shown and left unchecked: false
        },
    )
    assert given.custom_headers == {"X-A": "1", "X-B": "two"}
    assert given.rate_limit == 7
    assert given.smtp_security_policy_id == policy
    assert given.active is False


def test_an_empty_number_is_not_given_and_a_box_not_shown_is_left_alone() -> None:
    given = forms.structure(UpdateSmtpSecurityPolicyRequest, {"name": "p"})
    assert given.require_spf is None
    webhook = forms.structure(UpdateWebhookRequest, {"rate_limit": "", "payload_format": ""})
    assert webhook.rate_limit is None
    assert webhook.payload_format is None


@pytest.mark.parametrize(
    ("name", "raw"),
    [("rate_limit", "many"), ("custom_headers", "no colon here"), ("smtp_security_policy_id", "x")],
)
def test_text_that_is_no_value_is_refused_naming_the_field(name: str, raw: str) -> None:
    with pytest.raises(InvalidField) as refused:
        forms.structure(UpdateWebhookRequest, {name: raw})
    assert refused.value.field == name
