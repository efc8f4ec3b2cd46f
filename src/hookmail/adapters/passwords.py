"""argon2id password hashing through libpass (the maintained passlib)."""

from __future__ import annotations

from passlib.context import CryptContext


class Argon2PasswordHasher:
    def __init__(self, *, time_cost: int = 3, memory_cost: int = 65536) -> None:
        self._context = CryptContext(
            schemes=["argon2"],
            argon2__type="ID",
            argon2__time_cost=time_cost,
            argon2__memory_cost=memory_cost,
        )
        self._dummy = self._context.hash("hookmail-timing-equaliser")

    def hash(self, secret: str) -> str:
        return str(self._context.hash(secret))

    def verify(self, secret: str, hashed: str) -> bool:
        try:
            return bool(self._context.verify(secret, hashed))
        except (ValueError, TypeError):
            return False

    def burn(self, secret: str) -> None:
        self.verify(secret, self._dummy)
