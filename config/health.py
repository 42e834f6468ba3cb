"""Liveness of the parts Gatehouse cannot work without."""

import logging
import secrets

from django.core.cache import cache
from django.db import connection

logger = logging.getLogger("gatehouse.health")


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except Exception:
        logger.warning("health: database unreachable", exc_info=True)
        return False


def _cache_ok() -> bool:
    probe = secrets.token_hex(8)
    key = f"health:probe:{probe}"  # one key per check: concurrent checks cannot cross
    try:
        cache.set(key, probe, 10)
        ok = cache.get(key) == probe
        cache.delete(key)
        return ok
    except Exception:
        logger.warning("health: cache unreachable", exc_info=True)
        return False


def health_status() -> dict:
    database, cache_ = _database_ok(), _cache_ok()
    return {
        "status": "ok" if database and cache_ else "error",
        "database": "ok" if database else "down",
        "cache": "ok" if cache_ else "down",
    }
