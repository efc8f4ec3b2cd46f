"""/api/v1/sessions… and /api/v1/accounts/me/2fa…: tokens, rotation, 2FA, limits."""

from __future__ import annotations

import base64
import io
from typing import Any

import jwt
import pytest
import zxingcpp
from falcon import testing
from PIL import Image

from tests.integration.e2e.conftest import PASSWORD, Api

pytestmark = pytest.mark.e2e


def _sign_in(
    api: Api, email: str = "alice@example.com", password: str = PASSWORD, **kw: Any
) -> testing.Result:
    return api.call("POST", "/api/v1/sessions", json={"email": email, "password": password}, **kw)


def test_an_access_token_is_an_hs256_jwt_with_the_spec_claims(api: Api) -> None:
    account = api.sign_up("alice@example.com")
    session = api.sign_in("alice@example.com")
    header = jwt.get_unverified_header(session["access_token"])
    claims = jwt.decode(session["access_token"], options={"verify_signature": False})
    assert header["alg"] == "HS256"
    assert header["kid"]
    assert {"sub", "iat", "exp", "jti", "iss", "typ"} <= set(claims)
    assert claims["sub"] == account["id"]
    assert claims["typ"] == "access"
    assert claims["exp"] - claims["iat"] == 900
    assert len(base64.urlsafe_b64decode(session["refresh_token"] + "==")) >= 32


def test_wrong_password_and_unknown_email_fail_alike(api: Api) -> None:
    api.sign_up("alice@example.com")
    wrong = _sign_in(api, password="not the password")
    unknown = _sign_in(api, email="nobody@example.com")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json == unknown.json


def test_ten_failures_for_one_account_lock_it_for_a_while(api: Api) -> None:
    api.sign_up("alice@example.com")
    for n in range(10):
        # from ten different addresses, so only the per-account limit can trip
        result = _sign_in(api, password="wrong", remote_addr=f"192.0.2.{n}")
        assert result.status_code == 401
    limited = _sign_in(api, remote_addr="198.51.100.1")  # even the right password
    assert (limited.status_code, limited.json["code"]) == (429, "rate_limited")
    assert 0 < int(limited.headers["Retry-After"]) <= 900
    api.clock.advance(minutes=15)
    assert _sign_in(api).status_code == 200


def test_ten_failures_from_one_address_block_that_address(api: Api) -> None:
    api.sign_up("alice@example.com")
    for n in range(10):
        assert _sign_in(api, email=f"guess{n}@example.com").status_code == 401
    assert _sign_in(api).status_code == 429
    assert _sign_in(api, remote_addr="198.51.100.7").status_code == 200


def test_refresh_rotates_and_a_replayed_token_revokes_the_family(api: Api) -> None:
    api.sign_up("alice@example.com")
    first = api.sign_in("alice@example.com")
    second = api.call(
        "POST", "/api/v1/sessions/refresh", json={"refresh_token": first["refresh_token"]}
    )
    assert second.status_code == 200
    assert second.json["refresh_token"] != first["refresh_token"]
    assert api.call("GET", "/api/v1/accounts/me", second.json["access_token"]).status_code == 200

    replay = api.call(
        "POST", "/api/v1/sessions/refresh", json={"refresh_token": first["refresh_token"]}
    )
    assert (replay.status_code, replay.json["code"]) == (401, "invalid_token")
    # the thief's replay killed the legitimate holder's newer token too
    newer = api.call(
        "POST", "/api/v1/sessions/refresh", json={"refresh_token": second.json["refresh_token"]}
    )
    assert newer.status_code == 401


def test_a_refresh_token_lasts_thirty_days(api: Api) -> None:
    api.sign_up("alice@example.com")
    session = api.sign_in("alice@example.com")
    api.clock.advance(days=30)
    late = api.call(
        "POST", "/api/v1/sessions/refresh", json={"refresh_token": session["refresh_token"]}
    )
    assert late.status_code == 401
    assert (
        api.call("POST", "/api/v1/sessions/refresh", json={"refresh_token": "made-up"}).status_code
        == 401
    )


def test_sign_out_revokes_the_refresh_token(api: Api) -> None:
    api.sign_up("alice@example.com")
    session = api.sign_in("alice@example.com")
    out = api.call("DELETE", "/api/v1/sessions", json={"refresh_token": session["refresh_token"]})
    assert out.status_code == 204
    assert (
        api.call(
            "POST", "/api/v1/sessions/refresh", json={"refresh_token": session["refresh_token"]}
        ).status_code
        == 401
    )
    twice = api.call("DELETE", "/api/v1/sessions", json={"refresh_token": session["refresh_token"]})
    assert twice.status_code == 401


def test_setup_answers_a_secret_a_url_and_a_qr_png_of_the_url(api: Api) -> None:
    token = api.new_user("alice@example.com")
    result = api.call("POST", "/api/v1/accounts/me/2fa/setup", token)
    assert result.status_code == 200
    secret = result.json["secret"]
    assert result.json["otpauth_url"] == (
        f"otpauth://totp/hookmail:alice@example.com?secret={secret}&issuer=hookmail"
    )
    png = base64.b64decode(result.json["qr_code_png"])
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert decoded[0].text == result.json["otpauth_url"]


def test_setup_needs_a_signed_in_account(api: Api) -> None:
    assert api.call("POST", "/api/v1/accounts/me/2fa/setup").status_code == 401


def test_enabling_needs_setup_then_a_right_code_and_only_once(api: Api) -> None:
    token = api.new_user()
    early = api.call("POST", "/api/v1/accounts/me/2fa/enable", token, json={"code": "123456"})
    assert (early.status_code, early.json["code"]) == (422, "totp_not_set_up")
    setup = api.call("POST", "/api/v1/accounts/me/2fa/setup", token).json
    wrong = api.call("POST", "/api/v1/accounts/me/2fa/enable", token, json={"code": "000000"})
    assert (wrong.status_code, wrong.json["code"]) == (401, "invalid_totp_code")
    right = api.call(
        "POST", "/api/v1/accounts/me/2fa/enable", token, json={"code": api.totp(setup["secret"])}
    )
    assert right.status_code == 200
    codes = right.json["backup_codes"]
    assert len(codes) == 10
    assert len(set(codes)) == 10
    api.clock.advance(seconds=30)
    again = api.call(
        "POST", "/api/v1/accounts/me/2fa/enable", token, json={"code": api.totp(setup["secret"])}
    )
    assert (again.status_code, again.json["code"]) == (409, "totp_already_enabled")
    resetup = api.call("POST", "/api/v1/accounts/me/2fa/setup", token)
    assert resetup.status_code == 409


def test_sign_in_with_2fa_is_a_single_use_challenge_then_a_code(api: Api) -> None:
    token = api.new_user("alice@example.com")
    secret, _ = api.enable_totp(token)
    challenge = _sign_in(api)
    assert challenge.status_code == 200
    assert challenge.json["totp_required"] is True
    assert challenge.json["expires_in"] == 300
    assert "access_token" not in challenge.json
    # the challenge is no bearer token
    assert api.call("GET", "/api/v1/accounts/me", challenge.json["totp_token"]).status_code == 401

    wrong = api.call(
        "POST",
        "/api/v1/sessions/2fa",
        json={"totp_token": challenge.json["totp_token"], "code": "000000"},
    )
    assert (wrong.status_code, wrong.json["code"]) == (401, "invalid_totp_code")
    code = api.totp(secret)
    done = api.call(
        "POST",
        "/api/v1/sessions/2fa",
        json={"totp_token": challenge.json["totp_token"], "code": code},
    )
    assert done.status_code == 200
    assert api.call("GET", "/api/v1/accounts/me", done.json["access_token"]).status_code == 200

    reused = api.call(
        "POST",
        "/api/v1/sessions/2fa",
        json={"totp_token": challenge.json["totp_token"], "code": code},
    )
    assert (reused.status_code, reused.json["code"]) == (401, "invalid_token")
    # a fresh challenge, the same code within its window: refused as a replay
    fresh = _sign_in(api).json["totp_token"]
    replay = api.call("POST", "/api/v1/sessions/2fa", json={"totp_token": fresh, "code": code})
    assert (replay.status_code, replay.json["code"]) == (401, "invalid_totp_code")


def test_a_challenge_expires_after_five_minutes(api: Api) -> None:
    token = api.new_user("alice@example.com")
    secret, _ = api.enable_totp(token)
    challenge = _sign_in(api).json["totp_token"]
    api.clock.advance(minutes=5)
    late = api.call(
        "POST", "/api/v1/sessions/2fa", json={"totp_token": challenge, "code": api.totp(secret)}
    )
    assert late.status_code == 401


def test_a_backup_code_signs_in_once(api: Api) -> None:
    token = api.new_user("alice@example.com")
    _, codes = api.enable_totp(token)
    first = api.call(
        "POST",
        "/api/v1/sessions/2fa",
        json={"totp_token": _sign_in(api).json["totp_token"], "code": codes[0]},
    )
    assert first.status_code == 200
    second = api.call(
        "POST",
        "/api/v1/sessions/2fa",
        json={"totp_token": _sign_in(api).json["totp_token"], "code": codes[0]},
    )
    assert second.status_code == 401
    other = api.call(
        "POST",
        "/api/v1/sessions/2fa",
        json={"totp_token": _sign_in(api).json["totp_token"], "code": codes[1].upper()},
    )
    assert other.status_code == 200


def test_guessing_2fa_codes_is_limited(api: Api) -> None:
    token = api.new_user("alice@example.com")
    api.enable_totp(token)
    for _ in range(10):
        challenge = _sign_in(api).json["totp_token"]
        assert (
            api.call(
                "POST", "/api/v1/sessions/2fa", json={"totp_token": challenge, "code": "000000"}
            ).status_code
            == 401
        )
    challenge = _sign_in(api)
    assert challenge.status_code == 429  # sign-in is locked too: the failures are the account's


def test_regenerating_backup_codes_replaces_them(api: Api) -> None:
    token = api.new_user("alice@example.com")
    secret, old = api.enable_totp(token)
    wrong = api.call("POST", "/api/v1/accounts/me/2fa/backup-codes", token, json={"code": "1"})
    assert (wrong.status_code, wrong.json["code"]) == (401, "invalid_totp_code")
    result = api.call(
        "POST", "/api/v1/accounts/me/2fa/backup-codes", token, json={"code": api.totp(secret)}
    )
    assert result.status_code == 200
    new = result.json["backup_codes"]
    assert len(new) == 10
    assert not set(new) & set(old)
    stale = api.call(
        "POST",
        "/api/v1/sessions/2fa",
        json={"totp_token": _sign_in(api).json["totp_token"], "code": old[0]},
    )
    assert stale.status_code == 401
    fresh = api.call(
        "POST",
        "/api/v1/sessions/2fa",
        json={"totp_token": _sign_in(api).json["totp_token"], "code": new[0]},
    )
    assert fresh.status_code == 200


def test_backup_codes_and_disable_need_2fa_on(api: Api) -> None:
    token = api.new_user()
    for method, path in (
        ("POST", "/api/v1/accounts/me/2fa/backup-codes"),
        ("DELETE", "/api/v1/accounts/me/2fa"),
    ):
        result = api.call(method, path, token, json={"code": "123456"})
        assert (result.status_code, result.json["code"]) == (422, "totp_not_enabled")
        assert api.call(method, path, json={"code": "123456"}).status_code == 401


def test_disabling_2fa_takes_a_current_code(api: Api) -> None:
    token = api.new_user("alice@example.com")
    secret, codes = api.enable_totp(token)
    backup = api.call("DELETE", "/api/v1/accounts/me/2fa", token, json={"code": codes[0]})
    assert backup.status_code == 401  # a backup code is not a current code
    done = api.call("DELETE", "/api/v1/accounts/me/2fa", token, json={"code": api.totp(secret)})
    assert done.status_code == 204
    assert "access_token" in _sign_in(api).json


def test_routes_and_methods_that_do_not_exist_answer_json(api: Api) -> None:
    missing = api.call("GET", "/api/v1/nothing-here")
    assert (missing.status_code, missing.json["code"]) == (404, "not_found")
    wrong = api.call("PATCH", "/api/v1/accounts/me")
    assert (wrong.status_code, wrong.json["code"]) == (405, "method_not_allowed")
    assert missing.headers["content-type"].startswith("application/json")
