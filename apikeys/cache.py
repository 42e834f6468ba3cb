"""Cached key state, so a warm request checks a key with one cache round trip and no query.

Same discipline as accounts.auth_state: entries are versioned (a revocation or an owner change
publishes a new version now and after commit, so a reader that loaded the old row before the
commit cannot make its entry current again), and a cache outage falls back to one query.
"""

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from accounts.auth_state import user_snapshot, version_key, versioned_value, versions_bump
from apikeys.models import APIKey
from core.cache import cache_call, cache_get_many

TOUCH_INTERVAL = timedelta(seconds=60)
# An unknown prefix is remembered this long, so repeating a made-up key costs no query.
# A real key is never hidden by it: prefixes come from `secrets`, so nobody can probe one
# before it is issued.
UNKNOWN_PREFIX_SECONDS = 30
_UNKNOWN = {"unknown": True}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def key_cache_key(prefix: str) -> str:
    return f"apikey:{prefix}"


def key_state(key: APIKey) -> dict:
    return {
        "id": key.pk,
        "prefix": key.prefix,
        "secret_hash": key.secret_hash,
        "scopes": list(key.scopes),
        # Whole microseconds since the epoch: exact, unlike a float timestamp.
        "expires_at": (key.expires_at - EPOCH) // timedelta(microseconds=1) if key.expires_at else None,
        "created_at": int(key.created_at.timestamp()),  # whole seconds: introspection's `iat`
        "revoked": key.revoked_at is not None,
        "rate_limit": key.rate_limit,
        "owner": user_snapshot(key.owner),
    }


def key_state_get(
    prefix: str, *, read: Callable[[list[str]], dict[str, Any]] = cache_get_many
) -> dict | None:
    """The key's state from the cache (one round trip: `read`, which may do more in it), else
    from one indexed query (then cached; an unknown prefix too, briefly)."""
    cache_key = key_cache_key(prefix)
    found = read([cache_key, version_key(cache_key)])
    if found.get(cache_key) == _UNKNOWN:
        return None
    state = versioned_value(found, cache_key)
    if state is not None:
        return state
    key = APIKey.objects.select_related("owner").filter(prefix=prefix).first()
    if key is None:
        cache_call("add", cache_key, _UNKNOWN, UNKNOWN_PREFIX_SECONDS)
        return None
    now = timezone.now()
    # The entry lives a minute, so this write happens at most about once a minute per key.
    if key.last_used_at is None or key.last_used_at < now - TOUCH_INTERVAL:
        APIKey.objects.filter(pk=key.pk).update(last_used_at=now)
    state = key_state(key)
    versioned_fill_key(found, cache_key, state)
    return state


def versioned_fill_key(found: dict, cache_key: str, state: dict) -> None:
    entry = {"v": found.get(version_key(cache_key)), "d": state}
    cache_call("set", cache_key, entry, settings.AUTH_STATE_CACHE_SECONDS)


def key_state_expired(state: dict) -> bool:
    return state["expires_at"] is not None and state["expires_at"] <= time.time() * 1_000_000


def publish_key_revoked(key: APIKey) -> None:
    cache_key = key_cache_key(key.prefix)
    versions_bump([cache_key], entries={cache_key: {**key_state(key), "revoked": True}})


def forget_keys_of(user_id: int) -> None:
    """Drop cached state of a user's keys (their role or status changed)."""
    keys = [
        key_cache_key(p) for p in APIKey.objects.filter(owner_id=user_id).values_list("prefix", flat=True)
    ]
    versions_bump(keys)
