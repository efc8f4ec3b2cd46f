"""Messages over real SMTP: the list and its filters, every attempt, replay, raw download,
and hostile headers shown as text."""

from __future__ import annotations

import re
import smtplib
import uuid
from pathlib import Path

from playwright.sync_api import expect

from tests.browser.conftest import PUBLIC_DOMAIN, Visit

HOSTILE_SUBJECT = "<script>alert('subject')</script> Invoice"


def _webhook(visit: Visit) -> str:
    page = visit.go("/webhooks")
    address = f"mail-{uuid.uuid4().hex[:8]}@{PUBLIC_DOMAIN}"
    form = page.get_by_role("form", name="New webhook")
    form.get_by_label("Address", exact=True).fill(address)
    form.get_by_label("Target URL", exact=True).fill(visit.stack.target.url)
    form.get_by_role("button", name="Create webhook").click()
    expect(page.get_by_role("heading", name=address)).to_be_visible()
    return address


def _send(visit: Visit, address: str) -> None:
    raw = (
        f'From: "<img src=x>" <evil@example.org>\r\nTo: {address}\r\n'
        f"Subject: {HOSTILE_SUBJECT}\r\nX-Trick: <b>bold</b>\r\n"
        "Message-ID: <browser-" + uuid.uuid4().hex + "@example.org>\r\n\r\nHello over SMTP.\r\n"
    )
    with smtplib.SMTP("127.0.0.1", visit.stack.smtp_port, timeout=10) as client:
        client.sendmail('"<b>evil</b>"@example.org', [address], raw.encode())


def test_a_real_smtp_message_shows_with_its_attempts_replays_and_downloads(
    visit: Visit, tmp_path: Path
) -> None:
    visit.new_account()
    address = _webhook(visit)
    _send(visit, address)

    page = visit.go("/messages")
    link = page.get_by_role("link", name=HOSTILE_SUBJECT)
    expect(link).to_be_visible()
    visit.shot("messages")
    form = page.get_by_role("form", name="Filter messages")
    form.get_by_label("Status", exact=True).select_option("failed")
    form.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("link", name=HOSTILE_SUBJECT)).to_have_count(0)
    form = page.get_by_role("form", name="Filter messages")
    form.get_by_label("Status", exact=True).select_option("")
    form.get_by_label("Webhook", exact=True).select_option(label=address)
    form.get_by_role("button", name="Filter").click()
    page.get_by_role("link", name=HOSTILE_SUBJECT).click()

    attempts = page.get_by_role("table", name=f"Attempts to {address}")
    expect(attempts.get_by_role("row")).to_have_count(2, timeout=20_000)  # header + 1
    expect(attempts).to_contain_text("delivered")
    page.get_by_text("Payload").click()
    expect(page.locator("pre.raw")).to_contain_text('"subject"')
    visit.shot("message")

    page.get_by_role("button", name="Replay", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("Replay queued")
    attempts = page.get_by_role("table", name=f"Attempts to {address}")
    expect(attempts.get_by_role("row")).to_have_count(3, timeout=20_000)  # the new attempt
    expect(attempts.get_by_role("row").nth(2)).to_contain_text("2")

    with page.expect_download() as download:
        page.get_by_role("link", name="Download raw message").click()
    saved = tmp_path / "message.eml"
    download.value.save_as(saved)
    raw = saved.read_bytes()
    assert raw.startswith(b"Received: ")
    assert f"Subject: {HOSTILE_SUBJECT}".encode() in raw

    visit.go("/")  # the overview counts it, and charts its attempts
    expect(page.get_by_role("img", name=re.compile("attempts per hour"))).to_be_visible()
    visit.shot("overview")
    page.go_back()

    # everything hostile shows as text: no element came from the message
    assert page.locator("script").count() == 0
    assert page.locator("img[src=x]").count() == 0
    assert page.locator("main b").count() == 0
    expect(page.get_by_role("heading", level=1)).to_contain_text("<script>")
    expect(page.get_by_role("row", name=re.compile("From"))).to_contain_text("<b>evil</b>")


def test_another_accounts_message_is_not_found(visit: Visit, second_visit: Visit) -> None:
    visit.new_account()
    address = _webhook(visit)
    _send(visit, address)
    page = visit.go("/messages")
    page.get_by_role("link", name=HOSTILE_SUBJECT).click()
    path = re.sub(r"^https?://[^/]+", "", page.url)

    second_visit.new_account()
    answer = second_visit.page.goto(visit.stack.url + path)
    assert answer is not None
    assert answer.status == 404
    expect(second_visit.page.get_by_role("heading", name="Not found")).to_be_visible()
    raw = second_visit.page.request.get(visit.stack.url + path + "/raw")
    assert raw.status == 404
