"""The shared cache of "is this session live" and "who is this user", read on every request.

Writes that revoke or change powers publish to the cache at once (fail-safe: a rolled-back
revocation only logs someone out early); readers fill a missing session entry from the
database with `add`, never `set`, so they cannot overwrite a revocation that raced them.

User snapshots (and API-key state, which embeds one) are versioned: each entry is tagged with
the version its reader saw *before* reading the row, and a change publishes a new random
version now and again after its commit. A reader that loaded the old row before the commit
can still write its entry, but with a stale tag, so the next request ignores it and reads
the row again: a demoted admin cannot keep admin power until the entry expires. The version
is read in the same round trip as the entry. When the cache is down every read falls back to
the database.
"""

import logging
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.db import transaction

from accounts import hooks
from accounts.errors import TokenNotValid, TokenRevoked
from accounts.models import Session, User
from accounts.principal import SNAPSHOT_FIELDS, Principal
from accounts.tokens import access_token_decode
from core.cache import cache_call, cache_get_many
from core.ids import is_id, is_uuid

logger = logging.getLogger("gatehouse.auth_state")


def session_key(session_id: object) -> str:
    return f"auth:session:{session_id}"


def user_key(user_id: object) -> str:
    return f"auth:user:{user_id}"


def version_key(key: str) -> str:
    return f"{key}:v"


# A version outlives any entry tagged with it by far, so a stale tag can never match again.
VERSION_SECONDS = 86400


def versioned_value(found: dict[str, Any], key: str) -> Any:
    """The entry's value if its tag is the current version (both from one get_many), else None."""
    entry = found.get(key)
    if not isinstance(entry, dict) or "v" not in entry:
        return None
    if entry["v"] != found.get(version_key(key)):
        return None
    return entry["d"]


def versioned_fill(found: dict[str, Any], key: str, value: Any) -> None:
    """Cache a value read from the database, tagged with the version read before the row."""
    entry = {"v": found.get(version_key(key)), "d": value}
    cache_call("set", key, entry, settings.AUTH_STATE_CACHE_SECONDS)


def versions_bump(keys: list[str], *, entries: dict[str, Any] | None = None) -> None:
    """Invalidate cached entries now and again after commit, so a late fill cannot win.
    `entries` are published with the new version (a revoked key's state)."""

    def publish() -> None:
        values: dict[str, Any] = {}
        for key in keys:
            tag = uuid.uuid4().hex
            values[version_key(key)] = tag
            if entries and key in entries:
                values[key] = {"v": tag, "d": entries[key]}
        cache_call("set_many", values, VERSION_SECONDS)

    if keys:
        publish()
        transaction.on_commit(publish)


def user_snapshot(user: User) -> dict[str, Any]:
    """What the cache keeps about a user: the fields of a Principal."""
    return {field: getattr(user, field) for field in SNAPSHOT_FIELDS}


def principal_of(user: User) -> Principal:
    return Principal.from_snapshot(user_snapshot(user))


def session_state(session: Session) -> dict[str, Any]:
    return {
        "user_id": session.user_id,
        "revoked": session.revoked_at is not None,
        "exp": int(session.expires_at.timestamp()),
    }


def principal_get(
    *, user_id: str, session_id: str, read: Callable[[list[str]], dict[str, Any]] = cache_get_many
) -> Principal:
    """The live user behind an access token's (sub, sid), or TokenRevoked / TokenNotValid.

    Warm cache: one round trip (`read`, which may do more in it: the authentication's
    accounts.throttling.auth_read) and no query. Cold or down: one query.
    """
    if not is_id(user_id) or not is_uuid(session_id):
        raise TokenNotValid()
    skey, ukey = session_key(session_id), user_key(user_id)
    found = read([skey, ukey, version_key(ukey)])
    state, snapshot = found.get(skey), versioned_value(found, ukey)
    if state is None or snapshot is None:
        session = Session.objects.select_related("user").filter(pk=session_id).first()
        if session is None:
            raise TokenNotValid()
        if state is None:
            state = session_state(session)
            cache_call("add", skey, state, settings.AUTH_STATE_CACHE_SECONDS)
        if snapshot is None:
            snapshot = user_snapshot(session.user)
            versioned_fill(found, ukey, snapshot)
    if str(state["user_id"]) != str(user_id):
        raise TokenNotValid()
    if state["revoked"] or state["exp"] <= time.time() or not snapshot["is_active"]:
        raise TokenRevoked()
    return Principal.from_snapshot(snapshot)


def access_token_state_keys(raw_token: object) -> list[str]:
    """The cache entries principal_get reads for this access token (session, user, version),
    or none when it is not an access token whose signature holds."""
    if not isinstance(raw_token, str) or not raw_token:
        return []
    try:
        claims = access_token_decode(raw_token).payload
    except TokenNotValid:
        return []
    user_id, session_id = str(claims["sub"]), str(claims["sid"])
    if not is_id(user_id) or not is_uuid(session_id):
        return []
    ukey = user_key(user_id)
    return [session_key(session_id), ukey, version_key(ukey)]


def principal_get_by_id(*, user_id: int) -> Principal | None:
    """The user as the cache knows them (filled from one query when cold), or None."""
    key = user_key(user_id)
    found = cache_get_many([key, version_key(key)])
    snapshot = versioned_value(found, key)
    if snapshot is None:
        user = User.objects.filter(pk=user_id).first()
        if user is None:
            return None
        snapshot = user_snapshot(user)
        versioned_fill(found, key, snapshot)
    return Principal.from_snapshot(snapshot)


def publish_sessions_revoked(sessions: Iterable[Session]) -> None:
    """Make revoked sessions' access tokens fail everywhere now, and again after commit."""
    ttl = settings.ACCESS_TOKEN_LIFETIME_SECONDS + 60
    entries = {session_key(s.pk): {"user_id": s.user_id, "revoked": True, "exp": 0} for s in sessions}
    if not entries:
        return
    cache_call("set_many", entries, ttl)
    transaction.on_commit(lambda: cache_call("set_many", entries, ttl))


def publish_user_changed(user_id: int, *, powers: bool = True) -> None:
    """Outdate the cached snapshot so the next request reads the new role, name or status.

    `powers=False` (only `last_login` changed) does not tell the other apps: their entries
    (API keys) carry the same snapshot, and refreshing them costs a query a login need not pay.
    """
    versions_bump([user_key(user_id)])
    if powers:
        hooks.user_powers_changed_publish(user_id)


def session_for_refresh(claims: Any) -> Session | None:
    """The session a refresh token names, with its user, or None."""
    session_id = str(claims["sid"])
    if not is_uuid(session_id):
        return None
    return Session.objects.select_related("user").filter(pk=session_id).first()
