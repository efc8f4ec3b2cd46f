"""Sign up, sign in (with and without 2FA), sign out, and what the sign-in refuses."""

from __future__ import annotations

import base64
import io
import re
import time

import pyotp
import zxingcpp
from PIL import Image
from playwright.sync_api import expect

from tests.browser.conftest import PASSWORD, Visit


def test_a_new_user_signs_up_signs_in_and_signs_out(visit: Visit) -> None:
    page = visit.go("/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()  # / when signed out
    visit.shot("signin")
    page.get_by_role("link", name="Sign up").click()
    visit.shot("signup")
    email = visit.new_account()
    nav = page.get_by_role("navigation", name="Main")
    for name in ("Domains", "Webhooks", "Policies", "Messages", "Account"):
        expect(nav.get_by_role("link", name=name)).to_be_visible()
    expect(page.get_by_text(email)).to_be_visible()

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.goto(visit.stack.url + "/webhooks")
    expect(page).to_have_url(re.compile(r"/signin$"))


def test_a_wrong_password_shows_an_alert(visit: Visit) -> None:
    email = visit.new_account()
    visit.page.get_by_role("button", name="Sign out").click()
    visit.sign_in(email, "not the password")
    expect(visit.page.get_by_role("alert")).to_contain_text(
        re.compile("email or password is wrong", re.I)
    )
    expect(visit.page.get_by_label("Email", exact=True)).to_have_value(
        email
    )  # kept for another try


def test_signing_up_twice_with_one_address_shows_an_alert(visit: Visit) -> None:
    email = visit.new_account()
    visit.page.get_by_role("button", name="Sign out").click()
    page = visit.go("/signup")
    page.get_by_label("Email", exact=True).fill(email.upper())
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("alert")).to_be_visible()


def _turn_on_2fa(visit: Visit) -> tuple[pyotp.TOTP, list[str]]:
    """Set 2FA up on the account page, reading the secret from the QR code image."""
    page = visit.go("/account")
    page.get_by_role("button", name="Set up two-factor authentication").click()
    image = page.get_by_role("img", name=re.compile("QR code"))
    source = image.get_attribute("src") or ""
    assert source.startswith("data:image/png;base64,")
    png = base64.b64decode(source.removeprefix("data:image/png;base64,"))
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    url = decoded[0].text
    assert url.startswith("otpauth://totp/hookmail:")
    visit.shot("account-2fa-setup")
    totp = pyotp.parse_uri(url)
    assert isinstance(totp, pyotp.TOTP)
    form = page.get_by_role("form", name="Turn on two-factor authentication")
    form.get_by_label("Code", exact=True).fill(
        totp.at(time.time() - 30)
    )  # the step before: now's stays unused
    form.get_by_role("button", name="Turn on").click()
    codes = page.get_by_role("list", name="Backup codes").get_by_role("listitem").all_inner_texts()
    assert len(codes) == 10
    visit.shot("account-2fa-backup-codes")
    return totp, codes


def test_2fa_set_up_in_the_browser_then_sign_in_asks_for_a_code(visit: Visit) -> None:
    email = visit.new_account()
    totp, codes = _turn_on_2fa(visit)
    page = visit.page
    page.get_by_role("button", name="Sign out").click()

    visit.sign_in(email)
    expect(page.get_by_label("Code", exact=True)).to_be_visible()
    visit.shot("signin-code")
    page.get_by_label("Code", exact=True).fill("000000" if totp.now() != "000000" else "111111")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_be_visible()
    page.get_by_label("Code", exact=True).fill(totp.now())
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()

    page.get_by_role("button", name="Sign out").click()
    visit.sign_in(email)
    page.get_by_label("Code", exact=True).fill(codes[0])  # a backup code works once
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    visit.sign_in(email)
    page.get_by_label("Code", exact=True).fill(codes[0])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_be_visible()
    page.get_by_label("Code", exact=True).fill(codes[1])  # the challenge is still good
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()

    page = visit.go("/account")  # turning it off takes a current code (the next step's)
    form = page.get_by_role("form", name="Turn off two-factor authentication")
    form.get_by_label("Code", exact=True).fill(totp.at(time.time() + 30))
    form.get_by_role("button", name="Turn off").click()
    expect(page.get_by_role("status")).to_contain_text("Two-factor authentication is off")
    page.get_by_role("button", name="Sign out").click()
    visit.sign_in(email)
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()


def test_sign_in_is_rate_limited_like_the_api(visit: Visit, second_visit: Visit) -> None:
    email = visit.new_account()
    # Another client address (the stack trusts 127.0.0.1 as a proxy), so the limit hit
    # here does not block the other tests' sign-ins.
    second_visit.context.set_extra_http_headers({"X-Forwarded-For": "203.0.113.9"})
    for _ in range(10):
        second_visit.sign_in(email, "wrong password!")
        expect(second_visit.page.get_by_role("alert")).to_contain_text("wrong")
    second_visit.sign_in(email)  # the right password, but too many failures
    expect(second_visit.page.get_by_role("alert")).to_contain_text("Too many attempts")
