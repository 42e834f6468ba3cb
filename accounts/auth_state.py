"""The shared cache of "is this session live" and "who is this user", read on every request.

Writes that revoke or change powers publish to the cache at once (fail-safe: a rolled-back
revocation only logs someone out early); readers fill a missing entry from the database with
`add`, never `set`, so they cannot overwrite a revocation that raced them. When the cache is
down every read falls back to the database.
"""

import logging
import time
import uuid
from collections.abc import Iterable

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from accounts.errors import TokenNotValid, TokenRevoked
from accounts.models import Session, User

logger = logging.getLogger("gatehouse.auth_state")

SNAPSHOT_FIELDS = (
    "id",
    "username",
    "email",
    "full_name",
    "role",
    "is_active",
    "date_joined",
    "last_login",
)


def session_key(session_id) -> str:
    return f"auth:session:{session_id}"


def user_key(user_id) -> str:
    return f"auth:user:{user_id}"


def user_snapshot(user: User) -> dict:
    return {field: getattr(user, field) for field in SNAPSHOT_FIELDS}


def session_state(session: Session) -> dict:
    return {
        "user_id": session.user_id,
        "revoked": session.revoked_at is not None,
        "exp": int(session.expires_at.timestamp()),
    }


class SnapshotUser:
    """The authenticated user as the cache knows it, as plain attributes (id, role, username,
    ...): reading them costs nothing. Any other attribute loads the full row once.

    Not a model instance: services take it and use `.pk`, never `filter(user=obj)`.
    """

    is_authenticated = True
    is_anonymous = False

    def __init__(self, snapshot: dict):
        self.__dict__.update(snapshot)
        self.pk = snapshot["id"]
        self._snapshot = snapshot
        self._row = None

    @property
    def is_staff(self) -> bool:
        return self.is_active and self.role == "admin"

    is_superuser = is_staff

    def __getattr__(self, name):
        # Only reached for names the snapshot does not have.
        if name.startswith("__") or name in ("_row", "_snapshot"):
            raise AttributeError(name)
        if self._row is None:
            self._row = User.objects.get(pk=self.pk)
        return getattr(self._row, name)

    def __eq__(self, other) -> bool:
        return getattr(other, "pk", None) == self.pk and isinstance(other, (SnapshotUser, User))

    def __hash__(self) -> int:
        return hash(self.pk)

    def __str__(self) -> str:
        return self.username


def _cache_get_many(keys: list[str]) -> dict:
    try:
        return cache.get_many(keys)
    except Exception:  # any cache outage: the database answers instead
        logger.warning("cache unavailable for auth state; reading the database", exc_info=True)
        return {}


def cache_call(method: str, *args, **kwargs) -> None:
    """A cache write that logs instead of failing the request when the cache is down."""
    try:
        getattr(cache, method)(*args, **kwargs)
    except Exception:
        logger.warning("cache write failed: %s", method, exc_info=True)


def cache_get(key: str):
    return _cache_get_many([key]).get(key)


def is_id(value: str) -> bool:
    """A database id as text: ASCII digits only ("²".isdigit() is True), at most 18 of them."""
    return value.isascii() and value.isdigit() and len(value) <= 18


def is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def principal_get(*, user_id: str, session_id: str) -> SnapshotUser:
    """The live user behind an access token's (sub, sid), or TokenRevoked / TokenNotValid.

    Warm cache: one round trip and no query. Cold or down: one query.
    """
    if not is_id(user_id) or not is_uuid(session_id):
        raise TokenNotValid()
    skey, ukey = session_key(session_id), user_key(user_id)
    found = _cache_get_many([skey, ukey])
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
    return SnapshotUser(snapshot)


def user_snapshot_get(*, user_id: int) -> SnapshotUser | None:
    """The user as the cache knows them (filled from one query when cold), or None."""
    key = user_key(user_id)
    snapshot = cache_get(key)
    if snapshot is None:
        user = User.objects.filter(pk=user_id).first()
        if user is None:
            return None
        snapshot = user_snapshot(user)
        cache_call("add", key, snapshot, settings.AUTH_STATE_CACHE_SECONDS)
    return SnapshotUser(snapshot)


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

    `powers=False` (only `last_login` changed) leaves the user's API-key entries alone: they
    carry the same snapshot, and refreshing them costs a query that a login need not pay.
    """
    key = user_key(user_id)
    cache_call("delete", key)
    transaction.on_commit(lambda: cache_call("delete", key))
    if powers:
        from apikeys.cache import forget_keys_of

        forget_keys_of(user_id)


def session_for_refresh(claims) -> Session | None:
    """The session a refresh token names, with its user, or None."""
    session_id = str(claims["sid"])
    if not is_uuid(session_id):
        return None
    return Session.objects.select_related("user").filter(pk=session_id).first()


def user_for_output(user):
    """What to render for the user: the cached snapshot when that is what we have."""
    return user._snapshot if isinstance(user, SnapshotUser) else user
