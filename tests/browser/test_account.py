"""The account page: timezone, password change (other sessions end), deletion."""

from __future__ import annotations

import re
import time

import pyotp
from playwright.sync_api import expect

from tests.browser.conftest import PASSWORD, Visit
from tests.receiver import wait_for


def test_changing_the_password_ends_every_other_session(visit: Visit, second_visit: Visit) -> None:
    email = visit.new_account()
    second_visit.sign_in(email)
    expect(second_visit.page.get_by_role("heading", name="Overview")).to_be_visible()

    page = visit.go("/account")
    form = page.get_by_role("form", name="Change password")
    form.get_by_label("Current password", exact=True).fill("not the password")
    form.get_by_label("New password", exact=True).fill("a new password, long")
    form.get_by_role("button", name="Change password").click()
    expect(page.get_by_role("alert")).to_contain_text("current password is wrong")

    form = page.get_by_role("form", name="Change password")
    form.get_by_label("Current password", exact=True).fill(PASSWORD)
    form.get_by_label("New password", exact=True).fill("a new password, long")
    form.get_by_role("button", name="Change password").click()
    expect(page.get_by_role("status")).to_contain_text("Password changed")
    visit.go("/webhooks")  # this browser stays signed in
    expect(page.get_by_role("heading", name="Webhooks")).to_be_visible()

    second_visit.go("/webhooks")  # the other one is out
    expect(second_visit.page).to_have_url(re.compile(r"/signin$"))
    second_visit.sign_in(email, "a new password, long")
    expect(second_visit.page.get_by_role("heading", name="Overview")).to_be_visible()


def test_the_timezone_changes_how_times_show(visit: Visit) -> None:
    visit.new_account()
    page = visit.go("/account")
    form = page.get_by_role("form", name="Timezone")
    form.get_by_label("Timezone", exact=True).select_option("Asia/Tokyo")
    form.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("Timezone saved")
    visit.shot("account")
    visit.go("/")
    expect(page.get_by_text(re.compile(r"since \d{4}-\d\d-\d\d \d\d:00:00 JST"))).to_be_visible()


def test_deleting_the_account_takes_the_password_and_the_2fa_code(visit: Visit) -> None:
    email = visit.new_account()
    page = visit.go("/account")
    page.get_by_role("button", name="Set up two-factor authentication").click()
    secret = page.locator("code.copy").first.inner_text()
    totp = pyotp.TOTP(secret)
    form = page.get_by_role("form", name="Turn on two-factor authentication")
    form.get_by_label("Code", exact=True).fill(totp.at(time.time() - 30))
    form.get_by_role("button", name="Turn on").click()
    expect(page.get_by_role("list", name="Backup codes")).to_be_visible()

    form = page.get_by_role("form", name="Delete account")
    form.get_by_label("Password", exact=True).fill(PASSWORD)
    form.get_by_label("Code", exact=True).fill("000000" if totp.now() != "000000" else "111111")
    form.get_by_role("button", name="Delete account").click()
    expect(page.get_by_role("alert")).to_contain_text("code is wrong")

    form = page.get_by_role("form", name="New backup codes")
    form.get_by_label("Code", exact=True).fill(totp.now())
    form.get_by_role("button", name="New backup codes").click()
    codes = page.get_by_role("list", name="Backup codes").get_by_role("listitem").all_inner_texts()
    assert len(codes) == 10

    form = page.get_by_role("form", name="Delete account")
    form.get_by_label("Password", exact=True).fill(PASSWORD)
    form.get_by_label("Code", exact=True).fill(codes[3])  # a backup code does as well
    form.get_by_role("button", name="Delete account").click()
    expect(page.get_by_role("status")).to_contain_text("account and everything in it are deleted")

    visit.sign_in(email)
    expect(page.get_by_role("alert")).to_contain_text(
        "email or password is wrong", ignore_case=True
    )


def test_a_forgotten_password_is_reset_through_the_mailed_link(visit: Visit) -> None:
    email = visit.new_account()
    visit.page.get_by_role("button", name="Sign out").click()
    page = visit.go("/signin")
    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_role("button", name="Send a reset link").click()
    expect(page.get_by_role("status")).to_contain_text("on its way")

    def mailed() -> bool:
        return any(m.to == email for m in visit.stack.mailer.sent)

    wait_for(mailed, what="the reset mail")
    body = next(m.body for m in visit.stack.mailer.sent if m.to == email)
    link = re.search(r"https?://\S+/reset-password\?token=\S+", body)
    assert link, body
    path = "/reset-password" + link.group(0).split("/reset-password", 1)[1]
    page.goto(visit.stack.url + path)  # the mail links to PUBLIC_URL: the same app
    page.get_by_label("New password", exact=True).fill("a brand new password")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("Sign in with the new one")
    visit.sign_in(email, "a brand new password")
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()

    page.goto(visit.stack.url + path)  # the link works once
    page.get_by_label("New password", exact=True).fill("yet another password")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert")).to_contain_text("invalid, expired or already used")
