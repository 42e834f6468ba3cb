"""Cache access that degrades instead of failing: a cache outage logs and the caller falls
back to the database."""

import logging
from typing import Any

from django.core.cache import cache

logger = logging.getLogger("gatehouse.auth_state")


def cache_get_many(keys: list[str]) -> dict[str, Any]:
    """The entries found, in one round trip; nothing when the cache is down."""
    try:
        return cache.get_many(keys)
    except Exception:  # any cache outage: the database answers instead
        logger.warning("cache unavailable for auth state; reading the database", exc_info=True)
        return {}


def cache_call(method: str, *args: Any, **kwargs: Any) -> None:
    """A cache write that logs instead of failing the request when the cache is down."""
    try:
        getattr(cache, method)(*args, **kwargs)
    except Exception:
        logger.warning("cache write failed: %s", method, exc_info=True)
