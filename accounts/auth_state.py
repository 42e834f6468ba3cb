"""The shared cache of "is this session live" and "who is this user", read on every request.

Writes that revoke or change powers publish to the cache at once (fail-safe: a rolled-back
revocation only logs someone out early); readers fill a missing entry from the database with
`add`, never `set`, so they cannot overwrite a revocation that raced them. When the cache is
down every read falls back to the database.
"""

import logging
import time
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import transaction

from accounts import hooks
from accounts.errors import TokenNotValid, TokenRevoked
from accounts.models import Session, User
from accounts.principal import SNAPSHOT_FIELDS, Principal
from core.cache import cache_call, cache_get, cache_get_many
from core.ids import is_id, is_uuid

logger = logging.getLogger("gatehouse.auth_state")


def session_key(session_id: object) -> str:
    return f"auth:session:{session_id}"


def user_key(user_id: object) -> str:
    return f"auth:user:{user_id}"


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


def principal_get(*, user_id: str, session_id: str) -> Principal:
    """The live user behind an access token's (sub, sid), or TokenRevoked / TokenNotValid.

    Warm cache: one round trip and no query. Cold or down: one query.
    """
    if not is_id(user_id) or not is_uuid(session_id):
        raise TokenNotValid()
    skey, ukey = session_key(session_id), user_key(user_id)
    found = cache_get_many([skey, ukey])
    state, snapshot = found.get(skey), found.get(ukey)
    if state is None or snapshot is None:
        session = Session.objects.select_related("user").filter(pk=session_id).first()
        if session is None:
            raise TokenNotValid()
        state, snapshot = session_state(session), user_snapshot(session.user)
        ttl = settings.AUTH_STATE_CACHE_SECONDS
        cache_call("add", skey, state, ttl)
        cache_call("add", ukey, snapshot, ttl)
    if str(state["user_id"]) != str(user_id):
        raise TokenNotValid()
    if state["revoked"] or state["exp"] <= time.time() or not snapshot["is_active"]:
        raise TokenRevoked()
    return Principal.from_snapshot(snapshot)


def principal_get_by_id(*, user_id: int) -> Principal | None:
    """The user as the cache knows them (filled from one query when cold), or None."""
    key = user_key(user_id)
    snapshot = cache_get(key)
    if snapshot is None:
        user = User.objects.filter(pk=user_id).first()
        if user is None:
            return None
        snapshot = user_snapshot(user)
        cache_call("add", key, snapshot, settings.AUTH_STATE_CACHE_SECONDS)
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
    """Drop the cached snapshot so the next request reads the new role, name or status.

    `powers=False` (only `last_login` changed) does not tell the other apps: their entries
    (API keys) carry the same snapshot, and refreshing them costs a query a login need not pay.
    """
    key = user_key(user_id)
    cache_call("delete", key)
    transaction.on_commit(lambda: cache_call("delete", key))
    if powers:
        hooks.user_powers_changed_publish(user_id)


def session_for_refresh(claims: Any) -> Session | None:
    """The session a refresh token names, with its user, or None."""
    session_id = str(claims["sid"])
    if not is_uuid(session_id):
        return None
    return Session.objects.select_related("user").filter(pk=session_id).first()
