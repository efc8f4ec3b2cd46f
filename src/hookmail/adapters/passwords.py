"""argon2id password hashing: libpass (the maintained passlib) for account passwords, and
argon2-cffi directly for SMTP credentials, whose salt is derived rather than random."""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
from collections.abc import Callable
from functools import cached_property

import argon2
from argon2 import low_level
from passlib.context import CryptContext

_PARALLELISM = 4  # passlib's default for argon2, so both hashers make the same kind of hash
_HASH_LEN = 32
_SALT_LEN = 16


class Argon2PasswordHasher:
    def __init__(self, *, time_cost: int = 3, memory_cost: int = 65536) -> None:
        self.time_cost = time_cost
        self.memory_cost = memory_cost
        self._context = CryptContext(
            schemes=["argon2"],
            argon2__type="ID",
            argon2__time_cost=time_cost,
            argon2__memory_cost=memory_cost,
        )

    def hash(self, secret: str) -> str:
        return str(self._context.hash(secret))

    def verify(self, secret: str, hashed: str) -> bool:
        try:
            return bool(self._context.verify(secret, hashed))
        except (ValueError, TypeError):
            return False

    @cached_property
    def _dummy(self) -> str:
        # made on first use, not at start: a hash costs `memory_cost` (64 MiB) for a moment,
        # which a worker that never checks a password (most SMTP workers) need not pay
        return str(self._context.hash("hookmail-timing-equaliser"))

    def burn(self, secret: str) -> None:
        self.verify(secret, self._dummy)

    def keyed(self, key: bytes | Callable[[], bytes]) -> KeyedArgon2CredentialHasher:
        """A credential hasher with this hasher's cost, its salts derived from `key`."""
        return KeyedArgon2CredentialHasher(
            key, time_cost=self.time_cost, memory_cost=self.memory_cost
        )


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")  # never raises, whatever a client sent


class KeyedArgon2CredentialHasher:
    """argon2id with salt = HMAC-SHA256(key, user)[:16]: a standard PHC string, so any argon2
    library verifies it, yet equal (user, password) pairs hash to equal strings and SMTP AUTH
    finds a login with one hash and an equality lookup (docs/architecture.md)."""

    def __init__(
        self,
        key: bytes | Callable[[], bytes],
        *,
        time_cost: int = 3,
        memory_cost: int = 65536,
    ) -> None:
        """`key` is the key itself, or what reads it (once, on first use)."""
        self._key = key if isinstance(key, bytes) else None
        self._read_key = key
        self._lock = threading.Lock()
        self._time_cost = time_cost
        self._memory_cost = memory_cost
        self._verifier = argon2.PasswordHasher()

    def _key_bytes(self) -> bytes:
        if self._key is None:
            with self._lock:
                if self._key is None and callable(self._read_key):
                    self._key = self._read_key()
        if self._key is None:
            raise RuntimeError("no key to derive SMTP credential salts from")
        return self._key

    def _salt(self, user: str) -> bytes:
        return hmac.new(self._key_bytes(), _utf8(user), hashlib.sha256).digest()[:_SALT_LEN]

    def hash(self, user: str, password: str) -> str:
        return low_level.hash_secret(
            _utf8(password),
            self._salt(user),
            time_cost=self._time_cost,
            memory_cost=self._memory_cost,
            parallelism=_PARALLELISM,
            hash_len=_HASH_LEN,
            type=low_level.Type.ID,
        ).decode("ascii")

    def keyed_prefix(self, user: str) -> str:
        salt = base64.b64encode(self._salt(user)).decode("ascii").rstrip("=")
        return (
            f"$argon2id$v={low_level.ARGON2_VERSION}"
            f"$m={self._memory_cost},t={self._time_cost},p={_PARALLELISM}${salt}$"
        )

    def verify(self, user: str, password: str, hashed: str) -> bool:
        try:
            return self._verifier.verify(hashed, _utf8(password))
        except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
            return False
        except ValueError:  # a hash string no argon2 parser accepts
            return False
