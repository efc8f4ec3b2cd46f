"""Domains, policies and webhooks, driven as a person would: by labels and button names."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import expect

from tests.browser.conftest import PASSWORD, PUBLIC_DOMAIN, SCREENSHOTS, Visit
from tests.receiver import wait_for


def _domain_name() -> str:
    return f"d{uuid.uuid4().hex[:8]}.example"


def test_a_domain_is_claimed_shows_its_records_and_verifies_against_dns(visit: Visit) -> None:
    visit.new_account()
    page = visit.page
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Domains").click()
    name = _domain_name()
    page.get_by_label("Domain", exact=True).fill(name)
    page.get_by_role("button", name="Claim domain").click()
    card = page.get_by_role("region", name=re.compile(re.escape(name)))
    expect(card).to_contain_text(f"_hookmail.{name}")
    expect(card).to_contain_text("10 mx.hookmail.test.")  # the MX record to publish
    txt_value = card.get_by_role("row").filter(has_text="TXT").locator("code").nth(1).inner_text()
    assert txt_value.startswith("hookmail-verify=")

    card.get_by_role("button", name="Verify").click()  # nothing published yet
    expect(page.get_by_role("alert")).to_contain_text(
        f"no TXT record found at _hookmail.{name}", ignore_case=True
    )
    visit.shot("domains")

    visit.stack.dns.zone.txt[f"_hookmail.{name}"] = [txt_value]
    page.get_by_role("region", name=re.compile(re.escape(name))).get_by_role(
        "button", name="Verify"
    ).click()
    card = page.get_by_role("region", name=re.compile(re.escape(name)))
    expect(card).to_contain_text("verified")
    expect(card.get_by_role("button", name="Verify")).to_have_count(0)

    card.get_by_role("button", name="Delete").click()
    expect(page.get_by_role("region", name=re.compile(re.escape(name)))).to_have_count(0)


def test_policies_are_created_edited_and_deleted_with_credentials_masked(visit: Visit) -> None:
    visit.new_account()
    page = visit.go("/policies")
    new = page.get_by_role("form", name="New policy")
    new.get_by_label("Name", exact=True).fill("Only our relay")
    new.get_by_label("Require SMTP AUTH", exact=True).check()
    new.get_by_label("SMTP credentials", exact=True).fill("relay:s3cret-password")
    new.get_by_role("button", name="Create policy").click()
    edit = page.get_by_role("form", name="Edit Only our relay")
    expect(edit.get_by_label("SMTP credentials", exact=True)).to_have_value("relay:********")
    expect(page.locator("body")).not_to_contain_text("s3cret-password")
    visit.shot("policies")

    edit.get_by_label("Name", exact=True).fill("Relay and office")
    edit.get_by_label("Allowed source IPs", exact=True).fill("192.0.2.0/24, 2001:db8::/32")
    edit.get_by_role("button", name="Save").click()
    edit = page.get_by_role("form", name="Edit Relay and office")
    expect(edit.get_by_label("Allowed source IPs", exact=True)).to_have_value(
        re.compile("192.0.2.0/24")
    )
    expect(edit.get_by_label("SMTP credentials", exact=True)).to_have_value(
        "relay:********"
    )  # kept

    edit.get_by_label("Allowed source IPs", exact=True).fill("not an address")
    edit.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert")).to_contain_text("Allowed source IPs: ")

    page.get_by_role("region", name="Relay and office").get_by_role("button", name="Delete").click()
    expect(page.get_by_role("form", name=re.compile("Edit"))).to_have_count(0)


def test_webhooks_are_created_edited_paused_resumed_and_deleted(visit: Visit) -> None:
    visit.new_account()
    page = visit.go("/webhooks")
    address = f"hook-{uuid.uuid4().hex[:8]}@{PUBLIC_DOMAIN}"
    form = page.get_by_role("form", name="New webhook")
    form.get_by_label("Address", exact=True).fill(address)
    form.get_by_label("Target URL", exact=True).fill("ftp://nope")
    form.get_by_role("button", name="Create webhook").click()
    expect(page.get_by_role("alert")).to_contain_text("Target URL: ")
    form = page.get_by_role("form", name="New webhook")
    expect(form.get_by_label("Address", exact=True)).to_have_value(address)  # kept for another try
    form.get_by_label("Target URL", exact=True).fill(visit.stack.target.url)
    form.get_by_role("button", name="Create webhook").click()
    expect(page.get_by_role("heading", name=address)).to_be_visible()

    edit = page.get_by_role("form", name="Edit webhook")
    edit.get_by_label("Custom headers", exact=True).fill("X-Team: mail")
    edit.get_by_label("Target URL", exact=True).fill(visit.stack.target.url + "?edited=1")
    edit.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("Saved")
    expect(
        page.get_by_role("form", name="Edit webhook").get_by_label("Target URL", exact=True)
    ).to_have_value(visit.stack.target.url + "?edited=1")

    page.get_by_role("button", name="Pause").click()
    expect(page.get_by_role("heading", name=address)).to_contain_text("paused")
    page.get_by_role("button", name="Send test message").click()  # refused while paused
    expect(page.get_by_role("alert")).to_contain_text("refused: the webhook is paused")
    page.get_by_role("button", name="Resume").click()
    expect(page.get_by_role("heading", name=address)).to_contain_text("active")

    page.get_by_role("button", name="New secret").click()
    secret = page.get_by_role("region", name="New signing secret")
    expect(secret).to_contain_text("whsec_")
    expect(secret).to_contain_text("24 hours")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Webhooks").click()
    expect(page.get_by_role("link", name=address)).to_be_visible()
    visit.shot("webhooks")
    page.get_by_role("link", name=address).click()
    page.get_by_role("button", name="Delete").click()
    expect(page.get_by_role("link", name=address)).to_have_count(0)


def test_send_test_message_goes_through_the_inbound_path_to_the_receiver(visit: Visit) -> None:
    visit.new_account()
    page = visit.go("/webhooks")
    address = f"test-{uuid.uuid4().hex[:8]}@{PUBLIC_DOMAIN}"
    form = page.get_by_role("form", name="New webhook")
    form.get_by_label("Address", exact=True).fill(address)
    form.get_by_label("Target URL", exact=True).fill(visit.stack.target.url)
    form.get_by_role("button", name="Create webhook").click()
    page.get_by_role("button", name="Send test message").click()

    attempts = page.get_by_role("region", name="Delivery attempts")
    expect(attempts.get_by_role("cell", name="delivered")).to_be_visible(timeout=20_000)
    expect(attempts.get_by_role("cell", name="200")).to_be_visible()
    visit.shot("webhook")

    def arrived() -> bool:
        return any(address.encode() in body for body in visit.stack.target.bodies())

    wait_for(arrived, what="the test message at the receiver")


def test_pages_fit_a_phone_screen(visit: Visit) -> None:
    email = visit.new_account()
    phone = visit.context.browser.new_context(viewport={"width": 390, "height": 844})
    try:
        page = phone.new_page()
        page.goto(visit.stack.url + "/signin")
        page.get_by_label("Email", exact=True).fill(email)
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        for path in ("/", "/domains", "/webhooks", "/policies", "/messages", "/account"):
            page.goto(visit.stack.url + path)
            overflow = page.evaluate(
                "document.scrollingElement.scrollWidth - document.scrollingElement.clientWidth"
            )
            assert overflow <= 0, f"{path} scrolls sideways on a phone by {overflow}px"
        page.goto(visit.stack.url + "/webhooks")
        if SCREENSHOTS:
            page.screenshot(path=f"{SCREENSHOTS}/phone-webhooks.png", full_page=True)
    finally:
        phone.close()
