"""Access tokens as JWT HS256 (pyjwt), with a `kid` header so keys can rotate."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime
from uuid import UUID

import jwt

from hookmail.core.errors import InvalidToken
from hookmail.core.ports import AccessClaims

ISSUER = "hookmail"
ACCESS_TYPE = "access"


def key_id(key: str) -> str:
    """A public fingerprint of the key, so a verifier can pick among several."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


class JwtAccessTokens:
    """Signs with the first key; verifies with any of them (old keys, during rotation)."""

    def __init__(self, keys: list[str], *, lifetime_seconds: int = 900) -> None:
        if not keys:
            raise ValueError("at least one signing key is needed")
        self.lifetime_seconds = lifetime_seconds
        self._signing = keys[0]
        self._by_kid = {key_id(k): k.encode("utf-8") for k in keys}

    def issue(self, *, account_id: UUID, token_version: int, now: datetime) -> str:
        issued = int(now.timestamp())
        claims = {
            "sub": str(account_id),
            "iat": issued,
            "exp": issued + self.lifetime_seconds,
            "jti": uuid.uuid4().hex,
            "iss": ISSUER,
            "typ": ACCESS_TYPE,
            "ver": token_version,
        }
        return jwt.encode(
            claims,
            self._signing.encode("utf-8"),
            algorithm="HS256",
            headers={"kid": key_id(self._signing)},
        )

    def verify(self, token: str, *, now: datetime) -> AccessClaims:
        try:
            header = jwt.get_unverified_header(token)
            key = self._by_kid.get(str(header.get("kid")))
            if key is None or header.get("alg") != "HS256":
                raise InvalidToken("the access token was not signed by this service")
            claims = jwt.decode(
                token,
                key,
                algorithms=["HS256"],
                issuer=ISSUER,
                options={
                    "require": ["sub", "iat", "exp", "jti", "iss", "typ"],
                    "verify_exp": False,
                },
            )
            if claims.get("typ") != ACCESS_TYPE:
                raise InvalidToken("not an access token")
            if int(claims["exp"]) <= int(now.timestamp()):
                raise InvalidToken("the access token has expired")
            return AccessClaims(account_id=UUID(claims["sub"]), token_version=int(claims["ver"]))
        except InvalidToken:
            raise
        except (jwt.PyJWTError, KeyError, ValueError, TypeError):
            raise InvalidToken("the access token is invalid") from None
