from __future__ import annotations

from datetime import timedelta

import pyotp

from hookmail.core import totp
from hookmail.core.accounts import Totp
from tests.builders import NOW

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def test_a_current_code_is_accepted_once() -> None:
    state = Totp(secret=SECRET, enabled=True)
    code = pyotp.TOTP(SECRET).at(NOW)
    accepted = totp.accept_code(state, code, NOW, allow_backup=False)
    assert accepted is not None
    assert totp.accept_code(accepted, code, NOW, allow_backup=False) is None


def test_one_step_of_drift_is_tolerated_but_not_two() -> None:
    state = Totp(secret=SECRET, enabled=True)
    previous = pyotp.TOTP(SECRET).at(NOW - timedelta(seconds=30))
    ancient = pyotp.TOTP(SECRET).at(NOW - timedelta(seconds=90))
    assert totp.accept_code(state, previous, NOW, allow_backup=False) is not None
    assert totp.accept_code(state, ancient, NOW, allow_backup=False) is None


def test_an_older_code_after_a_newer_one_is_a_replay() -> None:
    state = Totp(secret=SECRET, enabled=True)
    newer = totp.accept_code(state, pyotp.TOTP(SECRET).at(NOW), NOW, allow_backup=False)
    assert newer is not None
    older = pyotp.TOTP(SECRET).at(NOW - timedelta(seconds=30))
    assert totp.accept_code(newer, older, NOW, allow_backup=False) is None


def test_backup_codes_are_consumed_and_only_where_allowed() -> None:
    codes, hashes = totp.new_backup_codes()
    state = Totp(secret=SECRET, enabled=True, backup_code_hashes=hashes)
    assert totp.accept_code(state, codes[3], NOW, allow_backup=False) is None
    used = totp.accept_code(state, codes[3].upper().replace("-", ""), NOW, allow_backup=True)
    assert used is not None
    assert len(used.backup_code_hashes) == 9
    assert totp.accept_code(used, codes[3], NOW, allow_backup=True) is None


def test_backup_codes_are_distinct_and_readable() -> None:
    codes, hashes = totp.new_backup_codes()
    assert len(set(codes)) == len(set(hashes)) == 10
    assert all(len(code) == 11 and code[5] == "-" for code in codes)
    assert not any(code in " ".join(hashes) for code in codes)


def test_the_provisioning_url_names_the_issuer_and_account() -> None:
    url = totp.provisioning_uri(SECRET, "alice+tag@example.com")
    assert url == (
        f"otpauth://totp/hookmail:alice%2Btag@example.com?secret={SECRET}&issuer=hookmail"
    )
    parsed = pyotp.parse_uri(url)
    assert parsed.secret == SECRET
    assert parsed.issuer == "hookmail"
