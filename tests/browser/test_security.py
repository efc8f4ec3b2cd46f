"""CSRF, sessions that ended, escaping, and the headers that keep pages to themselves."""

from __future__ import annotations

import re
import uuid
from typing import Any

import requests
from dependency_injector import providers
from falcon import testing
from playwright.sync_api import expect

from hookmail.entrypoints.container import Container
from hookmail.entrypoints.http.app import create_app
from hookmail.entrypoints.settings import Settings
from tests.browser.conftest import PASSWORD, PUBLIC_DOMAIN, Stack, Visit

CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')


def _csrf(html: str) -> str:
    found = CSRF.search(html)
    assert found, "the page has a form with a CSRF token"
    return found.group(1)


def _signed_in(stack: Stack) -> tuple[requests.Session, str]:
    """A client signed in through the forms; its session and the CSRF token of its pages."""
    client = requests.Session()
    email = f"sec-{uuid.uuid4().hex[:10]}@example.com"
    account = {"email": email, "password": PASSWORD}
    token = _csrf(client.get(f"{stack.url}/signup", timeout=10).text)
    client.post(f"{stack.url}/signup", data={**account, "csrf": token}, timeout=10)
    signed = client.post(f"{stack.url}/signin", data={**account, "csrf": token}, timeout=10)
    assert "Overview" in signed.text
    return client, _csrf(client.get(f"{stack.url}/domains", timeout=10).text)


def test_a_form_without_or_with_a_wrong_csrf_token_is_refused_and_changes_nothing(
    stack: Stack,
) -> None:
    client, token = _signed_in(stack)
    for sent in ({}, {"csrf": "0" * 64}, {"csrf": token[:-1] + "x"}):
        refused = client.post(
            f"{stack.url}/domains", data={"name": "forged.example", **sent}, timeout=10
        )
        assert refused.status_code == 403
        assert 'role="alert"' in refused.text
    assert "forged.example" not in client.get(f"{stack.url}/domains", timeout=10).text

    accepted = client.post(
        f"{stack.url}/domains", data={"name": "forged.example", "csrf": token}, timeout=10
    )
    assert accepted.status_code == 200
    assert "_hookmail.forged.example" in accepted.text


def test_another_browsers_csrf_token_is_refused(stack: Stack) -> None:
    client, _ = _signed_in(stack)
    _, other_token = _signed_in(stack)
    refused = client.post(
        f"{stack.url}/domains", data={"name": "other.example", "csrf": other_token}, timeout=10
    )
    assert refused.status_code == 403


def test_signed_out_forms_need_the_token_too(stack: Stack) -> None:
    email = f"nocsrf-{uuid.uuid4().hex[:8]}@example.com"
    refused = requests.post(
        f"{stack.url}/signup", data={"email": email, "password": PASSWORD}, timeout=10
    )
    assert refused.status_code == 403
    client = requests.Session()
    token = _csrf(client.get(f"{stack.url}/signin", timeout=10).text)
    signed = client.post(
        f"{stack.url}/signin", data={"email": email, "password": PASSWORD, "csrf": token}
    )
    assert "email or password is wrong" in signed.text.lower()  # no account was made


def test_the_cookie_of_a_signed_out_session_is_refused(stack: Stack) -> None:
    client, token = _signed_in(stack)
    cookie = client.cookies["hookmail_session"]
    client.post(f"{stack.url}/signout", data={"csrf": token}, timeout=10)

    replayed = requests.Session()
    replayed.cookies.set("hookmail_session", cookie)
    answer = replayed.get(f"{stack.url}/webhooks", allow_redirects=False, timeout=10)
    assert answer.status_code == 303
    assert answer.headers["Location"] == "/signin"
    forged = replayed.post(
        f"{stack.url}/domains",
        data={"name": "after-signout.example", "csrf": token},
        allow_redirects=False,
        timeout=10,
    )
    assert forged.status_code == 303  # to the sign-in page; nothing was claimed
    assert "after-signout" not in client.get(f"{stack.url}/domains", timeout=10).text


def test_pages_send_the_csp_framing_and_referrer_headers_and_safe_cookies(stack: Stack) -> None:
    answer = requests.get(f"{stack.url}/signin", timeout=10)
    csp = answer.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert "script-src" not in csp  # default-src 'none' forbids every script
    assert answer.headers["X-Frame-Options"] == "DENY"
    assert answer.headers["Referrer-Policy"] == "same-origin"
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert "Secure" not in cookie  # PUBLIC_URL is http here
    css = requests.get(f"{stack.url}/static/style.css", timeout=10)
    assert css.ok
    assert css.headers["X-Frame-Options"] == "DENY"


def test_cookies_are_secure_when_the_public_url_is_https(stack: Stack) -> None:
    settings = Settings(
        smtp_hostname="mx.test",
        public_url="https://hookmail.example",
        public_domains=(PUBLIC_DOMAIN,),  # as the running stack has them
    )
    container = Container(settings=providers.Object(settings))
    container.engine.override(stack.container.engine)
    answer = testing.TestClient(create_app(container)).simulate_get("/signin")
    assert "Secure" in answer.headers["Set-Cookie"]


def test_hostile_values_show_as_text(visit: Visit) -> None:
    dialogs: list[Any] = []

    def opened(dialog: Any) -> None:  # an alert() would mean a script of ours ran
        dialogs.append(dialog)
        dialog.dismiss()

    visit.page.on("dialog", opened)
    visit.new_account()
    hostile = "<script>alert(1)</script>"
    page = visit.go("/policies")
    new = page.get_by_role("form", name="New policy")
    new.get_by_label("Name", exact=True).fill(f"x{hostile}")
    new.get_by_role("button", name="Create policy").click()
    expect(page.get_by_role("heading", name=f"x{hostile}")).to_be_visible()

    page = visit.go("/webhooks")
    form = page.get_by_role("form", name="New webhook")
    address = f"esc-{uuid.uuid4().hex[:6]}@{PUBLIC_DOMAIN}"
    form.get_by_label("Address", exact=True).fill(address)
    form.get_by_label("Target URL", exact=True).fill(f'{visit.stack.target.url}?q="><img/src=x>')
    form.get_by_label("Custom headers", exact=True).fill(f"X-Note: {hostile}")
    form.get_by_role("button", name="Create webhook").click()
    expect(page.get_by_role("heading", name=address)).to_be_visible()
    expect(page.get_by_text('?q="><img/src=x>').first).to_be_visible()

    page = visit.go("/domains")
    page.get_by_label("Domain", exact=True).fill(f"{hostile}.example")
    page.get_by_role("button", name="Claim domain").click()
    expect(page.get_by_role("alert")).to_contain_text("<script>")

    assert page.locator("script").count() == 0
    assert page.locator("img[src=x]").count() == 0
    assert not dialogs
