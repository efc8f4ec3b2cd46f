from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import jwt
import pytest

from hookmail.adapters.access_tokens import JwtAccessTokens, key_id
from hookmail.core.errors import InvalidToken
from tests.builders import NOW

KEY = "k" * 48


def test_a_token_verifies_until_it_expires() -> None:
    tokens = JwtAccessTokens([KEY])
    account = uuid4()
    token = tokens.issue(account_id=account, token_version=3, now=NOW)
    claims = tokens.verify(token, now=NOW + timedelta(seconds=899))
    assert (claims.account_id, claims.token_version) == (account, 3)
    with pytest.raises(InvalidToken):
        tokens.verify(token, now=NOW + timedelta(seconds=900))


def test_an_old_key_still_verifies_during_rotation() -> None:
    token = JwtAccessTokens(["old" * 16]).issue(account_id=uuid4(), token_version=0, now=NOW)
    assert JwtAccessTokens([KEY, "old" * 16]).verify(token, now=NOW)
    with pytest.raises(InvalidToken):
        JwtAccessTokens([KEY]).verify(token, now=NOW)


def _forge(claims: dict[str, object], *, alg: str = "HS256", key: str = KEY) -> str:
    base = {
        "sub": str(uuid4()),
        "iat": int(NOW.timestamp()),
        "exp": int(NOW.timestamp()) + 900,
        "jti": "x",
        "iss": "hookmail",
        "typ": "access",
        "ver": 0,
    }
    base.update(claims)
    if alg == "none":
        return jwt.encode(base, "", algorithm="none", headers={"kid": key_id(KEY)})
    return jwt.encode(base, key.encode(), algorithm=alg, headers={"kid": key_id(KEY)})


@pytest.mark.parametrize(
    "token",
    [
        _forge({}, alg="none"),
        _forge({"typ": "totp_challenge"}),
        _forge({"iss": "someone-else"}),
        _forge({}, key="wrong" * 10),
        _forge({}, alg="HS512", key=KEY * 2),
        _forge({"sub": "not-a-uuid"}),
        "garbage",
    ],
)
def test_only_hs256_access_tokens_of_ours_are_accepted(token: str) -> None:
    with pytest.raises(InvalidToken):
        JwtAccessTokens([KEY]).verify(token, now=NOW)
