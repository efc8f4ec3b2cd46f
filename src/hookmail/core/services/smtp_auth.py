"""SMTP AUTH: one attempt to log in with a user name and password (SPEC §4).

An attempt costs one keyed hash however many policies, of however many accounts, share the
user name: the hash is deterministic per (user, password), so the store finds every matching
credential by equality (docs/architecture.md, "SMTP AUTH"). Credentials stored before keyed
salts are verified one by one and rehashed on their first success, so they only dwindle.
Failures are counted in the store per client address and per user name, so the limit holds
across every SMTP worker; the store is read on every attempt, so a changed or removed
password stops working at once.
"""

from __future__ import annotations

import hashlib
from uuid import UUID

from attrs import field, frozen

from hookmail.core import throttle
from hookmail.core.errors import RateLimited
from hookmail.core.ports import Clock, CredentialHasher, UnitOfWork
from hookmail.core.smtp_policies import MAX_CREDENTIAL_PASSWORD
from hookmail.core.throttle import Limit

# No stored credential is longer (policies saved before the API's caps allowed 255-character
# user names, hence not MAX_CREDENTIAL_USER), nor has control characters: such an attempt
# fails without a hash.
MAX_USER = 255
MAX_PASSWORD = MAX_CREDENTIAL_PASSWORD


@frozen
class LoggedIn:
    user: str
    policies: frozenset[UUID]  # every policy whose credentials these are
    digest: str = field(default="", repr=False, eq=False)  # the keyed hash they matched


@frozen
class LoginFailed:
    """Wrong user name or password (535)."""


@frozen
class LoginThrottled:
    """Too many failures from this address or for this user name (454)."""

    retry_after: int


LoginOutcome = LoggedIn | LoginFailed | LoginThrottled


def failure_keys(*, user: str, client: str) -> list[str]:
    """The attempt-log keys a failure counts under. The user name is digested: it is
    whatever a client sent (any length, any byte), and keys must fit the store."""
    digest = hashlib.sha256(user.encode("utf-8", "surrogatepass")).hexdigest()
    return [f"smtp-auth:client:{client}", f"smtp-auth:user:{digest}"]


def authenticate(
    uow: UnitOfWork,
    clock: Clock,
    hasher: CredentialHasher,
    limit: Limit,
    *,
    user: str,
    password: str,
    client: str,
) -> LoginOutcome:
    """Check one login. Throttled attempts cost no hash and are not counted again."""
    keys = failure_keys(user=user, client=client)
    try:
        throttle.check(uow, limit, keys, clock.now())
    except RateLimited as exc:
        return LoginThrottled(exc.retry_after)
    if len(user) <= MAX_USER and user.isprintable() and len(password) <= MAX_PASSWORD:
        digest = hasher.hash(user, password)  # the one keyed hash of the attempt
        matched = _matching(uow, hasher, user=user, password=password, digest=digest)
        if matched:
            return LoggedIn(user, frozenset(matched), digest)
    throttle.fail(uow, keys, clock.now())
    return LoginFailed()


def _matching(
    uow: UnitOfWork, hasher: CredentialHasher, *, user: str, password: str, digest: str
) -> set[UUID]:
    with uow.reading():
        found = uow.policies.logins(user, digest=digest, keyed_prefix=hasher.keyed_prefix(user))
    matched = {f.policy_id for f in found if f.password_hash == digest}
    older = [
        f
        for f in found
        if f.password_hash != digest and hasher.verify(user, password, f.password_hash)
    ]
    if older:
        with uow:
            for login in older:
                uow.policies.rehash(login.policy_id, user, old=login.password_hash, new=digest)
            uow.commit()
    return matched | {f.policy_id for f in older}


def still_logged_in(uow: UnitOfWork, login: LoggedIn) -> LoggedIn:
    """The login as the store sees it now: only the policies that still hold the credential
    it matched, so a changed or removed password stops working at once even for a session
    that logged in before the change. One indexed read, no hash (every matched credential
    holds the keyed hash by now: older ones were rehashed when they matched)."""
    with uow.reading():
        found = uow.policies.logins(login.user, digest=login.digest, keyed_prefix="")
    held = frozenset(f.policy_id for f in found if f.password_hash == login.digest)
    return LoggedIn(login.user, login.policies & held, login.digest)
