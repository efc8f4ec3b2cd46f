"""Time-based one-time passwords (RFC 6238) and backup codes, with time as a parameter."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from urllib.parse import quote

import pyotp
from attrs import evolve

from hookmail.core.accounts import Totp

ISSUER = "hookmail"
BACKUP_CODES = 10
_STEP = timedelta(seconds=30)
_BACKUP_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i


def new_totp() -> Totp:
    return Totp(secret=pyotp.random_base32())


def provisioning_uri(secret: str, email: str) -> str:
    """`otpauth://totp/hookmail:<email>?secret=…&issuer=hookmail`, as authenticator apps read it."""
    return f"otpauth://totp/{ISSUER}:{quote(email, safe='@')}?secret={secret}&issuer={ISSUER}"


def _matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step whose code is `code`, allowing one step of clock drift either way."""
    totp = pyotp.TOTP(secret)
    for drift in (0, -1, 1):
        moment = now + drift * _STEP
        if hmac.compare_digest(totp.at(moment), code):
            return int(totp.timecode(moment))
    return None


def _normalize_backup(code: str) -> str:
    return code.strip().lower().replace("-", "").replace(" ", "")


def hash_backup_code(code: str) -> str:
    return hashlib.sha256(_normalize_backup(code).encode()).hexdigest()


def new_backup_codes() -> tuple[list[str], tuple[str, ...]]:
    """Ten fresh codes (`xxxxx-xxxxx`, about 49 bits each) and their digests to store."""
    codes = []
    for _ in range(BACKUP_CODES):
        raw = "".join(secrets.choice(_BACKUP_ALPHABET) for _ in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
    return codes, tuple(hash_backup_code(c) for c in codes)


def accept_code(totp: Totp, code: str, now: datetime, *, allow_backup: bool) -> Totp | None:
    """The TOTP state after accepting `code`, or None if it is wrong or already used.

    A TOTP code is accepted once: its time step must be later than the last accepted one.
    A backup code (when allowed) is consumed.
    """
    code = code.strip()
    if code.isdigit() and len(code) == 6:
        step = _matching_step(totp.secret, code, now)
        if step is None or step <= totp.last_counter:
            return None
        return evolve(totp, last_counter=step)
    if allow_backup and totp.backup_code_hashes:
        digest = hash_backup_code(code)
        left = tuple(h for h in totp.backup_code_hashes if not hmac.compare_digest(h, digest))
        if len(left) < len(totp.backup_code_hashes):
            return evolve(totp, backup_code_hashes=left)
    return None
