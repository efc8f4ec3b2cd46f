"""/api/v1/accounts…: every listed status, and SPEC §3's account rules."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from tests.integration.e2e.conftest import PASSWORD, Api

pytestmark = pytest.mark.e2e


def test_sign_up_answers_the_account_without_secrets(api: Api) -> None:
    result = api.call(
        "POST",
        "/api/v1/accounts",
        json={"email": "Alice@Example.COM", "password": PASSWORD, "extra": 1},
    )
    assert result.status_code == 201
    assert set(result.json) == {"id", "email", "timezone", "created_at", "updated_at"}
    assert result.json["email"] == "alice@example.com"
    assert result.json["timezone"] == "UTC"
    assert result.json["created_at"] == "2026-04-02T12:00:00Z"


def test_an_email_is_unique_whatever_its_case(api: Api) -> None:
    api.sign_up("alice@example.com")
    result = api.call(
        "POST", "/api/v1/accounts", json={"email": "ALICE@example.com", "password": PASSWORD}
    )
    assert result.status_code == 409
    assert result.json["code"] == "email_taken"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "not-an-address", "password": PASSWORD}, "email"),
        ({"email": "a@example.com", "password": "short"}, "password"),
        ({"email": "a@example.com", "password": " " * 12}, "password"),
        ({"email": "a@example.com", "password": "x" * 257}, "password"),
        ({"email": "a@example.com", "password": 12345678}, "password"),
        ({"email": "a@example.com"}, "password"),
        ({"email": None, "password": PASSWORD}, "email"),
    ],
)
def test_sign_up_refuses_bad_fields_naming_them(
    api: Api, body: dict[str, object], field: str
) -> None:
    result = api.call("POST", "/api/v1/accounts", json=body)
    assert result.status_code == 422
    assert result.json["code"] == "validation_error"
    assert field in result.json["error"]


def test_malformed_or_non_object_json_is_refused(api: Api) -> None:
    broken = api.call(
        "POST", "/api/v1/accounts", body=b'{"email": ', headers={"Content-Type": "application/json"}
    )
    assert (broken.status_code, broken.json["code"]) == (400, "invalid_json")
    empty = api.call("POST", "/api/v1/accounts", body=b"")
    assert (empty.status_code, empty.json["code"]) == (400, "invalid_json")
    array = api.call("POST", "/api/v1/accounts", json=[1, 2])
    assert (array.status_code, array.json["code"]) == (422, "validation_error")


def test_a_body_over_one_mebibyte_is_refused(api: Api) -> None:
    result = api.call(
        "POST", "/api/v1/accounts", json={"email": "a@example.com", "password": "x" * (1024 * 1024)}
    )
    assert result.status_code == 413
    assert result.json["code"] == "payload_too_large"


def test_sign_ups_are_limited_per_client_address(api: Api) -> None:
    for n in range(20):
        api.sign_up(f"user{n}@example.com")
    result = api.call(
        "POST", "/api/v1/accounts", json={"email": "one-more@example.com", "password": PASSWORD}
    )
    assert result.status_code == 429
    assert result.json["code"] == "rate_limited"
    assert 0 < int(result.headers["Retry-After"]) <= 3600
    api.clock.advance(hours=1)
    api.sign_up("one-more@example.com")


def test_me_answers_the_signed_in_account(api: Api) -> None:
    token = api.new_user("alice@example.com")
    result = api.call("GET", "/api/v1/accounts/me", token)
    assert result.status_code == 200
    assert result.json["email"] == "alice@example.com"


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Bearer",
        "Basic YWxpY2U6cGFzc3dvcmQ=",
        "Bearer not-a-jwt",
        # alg "none", sub of nobody
        "Bearer eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0."
        "eyJzdWIiOiIwMDAwMDAwMC0wMDAwLTAwMDAtMDAwMC0wMDAwMDAwMDAwMDAiLCJ0eXAiOiJhY2Nlc3MifQ.",
    ],
)
def test_me_without_a_valid_access_token_is_401(api: Api, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    result = api.call("GET", "/api/v1/accounts/me", headers=headers)
    assert result.status_code == 401
    assert result.json["code"] in {"unauthorized", "invalid_token"}


def test_an_access_token_lives_900_seconds(api: Api) -> None:
    api.sign_up("alice@example.com")
    session = api.sign_in("alice@example.com")
    assert session["expires_in"] == 900
    assert session["token_type"] == "Bearer"
    api.clock.advance(seconds=899)
    assert api.call("GET", "/api/v1/accounts/me", session["access_token"]).status_code == 200
    api.clock.advance(seconds=1)
    expired = api.call("GET", "/api/v1/accounts/me", session["access_token"])
    assert (expired.status_code, expired.json["code"]) == (401, "invalid_token")


def test_changing_the_password_revokes_every_earlier_token(api: Api) -> None:
    api.sign_up("alice@example.com")
    session = api.sign_in("alice@example.com")
    other = api.sign_in("alice@example.com")
    result = api.call(
        "PUT",
        "/api/v1/accounts/me/password",
        session["access_token"],
        json={"current_password": PASSWORD, "new_password": "a new passphrase"},
    )
    assert result.status_code == 204
    # same second, yet revoked: a version counter, not iat
    for token in (session["access_token"], other["access_token"]):
        assert api.call("GET", "/api/v1/accounts/me", token).status_code == 401
    refreshed = api.call(
        "POST", "/api/v1/sessions/refresh", json={"refresh_token": other["refresh_token"]}
    )
    assert refreshed.status_code == 401
    old = api.call(
        "POST", "/api/v1/sessions", json={"email": "alice@example.com", "password": PASSWORD}
    )
    assert old.status_code == 401
    assert api.sign_in("alice@example.com", "a new passphrase")["access_token"]


def test_changing_the_password_needs_the_current_one_and_a_good_new_one(api: Api) -> None:
    token = api.new_user()
    wrong = api.call(
        "PUT",
        "/api/v1/accounts/me/password",
        token,
        json={"current_password": "wrong password", "new_password": "fine new one"},
    )
    assert (wrong.status_code, wrong.json["code"]) == (401, "unauthorized")
    weak = api.call(
        "PUT",
        "/api/v1/accounts/me/password",
        token,
        json={"current_password": PASSWORD, "new_password": "short"},
    )
    assert weak.status_code == 422
    assert "new_password" in weak.json["error"]
    anonymous = api.call(
        "PUT",
        "/api/v1/accounts/me/password",
        json={"current_password": PASSWORD, "new_password": "fine new one"},
    )
    assert anonymous.status_code == 401


def test_the_timezone_must_be_an_iana_name(api: Api) -> None:
    token = api.new_user()
    assert (
        api.call(
            "PUT", "/api/v1/accounts/me/timezone", token, json={"timezone": "Europe/Paris"}
        ).status_code
        == 204
    )
    assert api.call("GET", "/api/v1/accounts/me", token).json["timezone"] == "Europe/Paris"
    for bad in ("Mars/Olympus", "", "../../etc/passwd"):
        result = api.call("PUT", "/api/v1/accounts/me/timezone", token, json={"timezone": bad})
        assert (result.status_code, result.json["code"]) == (422, "validation_error")
        assert "timezone" in result.json["error"]
    assert (
        api.call("PUT", "/api/v1/accounts/me/timezone", json={"timezone": "UTC"}).status_code == 401
    )


def test_deleting_the_account_needs_the_password_and_removes_it(api: Api) -> None:
    token = api.new_user("alice@example.com")
    wrong = api.call("DELETE", "/api/v1/accounts/me", token, json={"password": "not it at all"})
    assert wrong.status_code == 401
    assert (
        api.call("DELETE", "/api/v1/accounts/me", token, json={"password": PASSWORD}).status_code
        == 204
    )
    assert api.call("GET", "/api/v1/accounts/me", token).status_code == 401
    gone = api.call(
        "POST", "/api/v1/sessions", json={"email": "alice@example.com", "password": PASSWORD}
    )
    assert gone.status_code == 401
    api.sign_up("alice@example.com")  # the address is free again


def test_deleting_an_account_with_2fa_needs_a_code(api: Api) -> None:
    token = api.new_user()
    secret, _ = api.enable_totp(token)
    missing = api.call("DELETE", "/api/v1/accounts/me", token, json={"password": PASSWORD})
    assert missing.status_code == 401
    wrong = api.call(
        "DELETE", "/api/v1/accounts/me", token, json={"password": PASSWORD, "code": "000000"}
    )
    assert wrong.status_code == 401
    right = api.call(
        "DELETE",
        "/api/v1/accounts/me",
        token,
        json={"password": PASSWORD, "code": api.totp(secret)},
    )
    assert right.status_code == 204


def _reset_token(api: Api) -> str:
    match = re.search(r"/reset-password\?token=(\S+)", api.mailer.sent[-1].body)
    assert match is not None
    return match.group(1)


def test_password_reset_mails_a_single_use_link_and_tells_nothing(api: Api) -> None:
    session_token = api.new_user("alice@example.com")
    unknown = api.call(
        "POST", "/api/v1/accounts/password-reset", json={"email": "nobody@example.com"}
    )
    assert unknown.status_code == 202
    assert api.mailer.sent == []
    known = api.call("POST", "/api/v1/accounts/password-reset", json={"email": "Alice@example.com"})
    assert known.status_code == 202
    assert known.text == unknown.text
    assert api.mailer.sent[-1].to == "alice@example.com"
    assert "http://127.0.0.1:8000/reset-password?token=" in api.mailer.sent[-1].body
    token = _reset_token(api)

    weak = api.call(
        "PUT", "/api/v1/accounts/password-reset", json={"token": token, "new_password": "short"}
    )
    assert weak.status_code == 422
    done = api.call(
        "PUT",
        "/api/v1/accounts/password-reset",
        json={"token": token, "new_password": "brand new secret"},
    )
    assert done.status_code == 204
    again = api.call(
        "PUT",
        "/api/v1/accounts/password-reset",
        json={"token": token, "new_password": "another secret"},
    )
    assert (again.status_code, again.json["code"]) == (401, "invalid_token")
    assert api.call("GET", "/api/v1/accounts/me", session_token).status_code == 401
    api.sign_in("alice@example.com", "brand new secret")


def test_a_reset_token_expires_after_an_hour(api: Api) -> None:
    api.sign_up("alice@example.com")
    api.call("POST", "/api/v1/accounts/password-reset", json={"email": "alice@example.com"})
    token = _reset_token(api)
    api.clock.advance(minutes=60)
    late = api.call(
        "PUT",
        "/api/v1/accounts/password-reset",
        json={"token": token, "new_password": "brand new secret"},
    )
    assert late.status_code == 401


def test_reset_requests_are_limited_per_client_address(api: Api) -> None:
    for _ in range(20):
        assert (
            api.call(
                "POST", "/api/v1/accounts/password-reset", json={"email": "x@example.com"}
            ).status_code
            == 202
        )
    limited = api.call("POST", "/api/v1/accounts/password-reset", json={"email": "x@example.com"})
    assert limited.status_code == 429
    assert "Retry-After" in limited.headers


def test_guessing_reset_tokens_is_limited(api: Api) -> None:
    for n in range(10):
        wrong = api.call(
            "PUT",
            "/api/v1/accounts/password-reset",
            json={"token": f"guess-{n}", "new_password": "brand new secret"},
        )
        assert wrong.status_code == 401
    limited = api.call(
        "PUT",
        "/api/v1/accounts/password-reset",
        json={"token": "guess", "new_password": "brand new secret"},
    )
    assert limited.status_code == 429
    api.clock.advance(minutes=15)
    assert (
        api.call(
            "PUT",
            "/api/v1/accounts/password-reset",
            json={"token": "guess", "new_password": "brand new secret"},
        ).status_code
        == 401
    )


def test_reset_links_use_a_timedelta_of_sixty_minutes_exactly(api: Api) -> None:
    api.sign_up("alice@example.com")
    api.call("POST", "/api/v1/accounts/password-reset", json={"email": "alice@example.com"})
    token = _reset_token(api)
    api.clock.advance(seconds=timedelta(minutes=59, seconds=59).total_seconds())
    assert (
        api.call(
            "PUT",
            "/api/v1/accounts/password-reset",
            json={"token": token, "new_password": "brand new secret"},
        ).status_code
        == 204
    )
