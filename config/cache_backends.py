"""The rate-limit cache: django-redis with a counter that costs one round trip.

django-ratelimit counts with `cache.add(key, 1)` and, when the key exists, `cache.incr(key)`:
two round trips on most requests. Here `add` runs one Lua script (INCR, and EXPIRE on the
first hit) and hands the resulting count to the `incr` call that follows, so each rate-limit
check is one atomic round trip. Any other use behaves like the plain django-redis cache.
"""

import logging
import threading

from django_redis.cache import RedisCache

logger = logging.getLogger("gatehouse.ratelimit")

_INCR_WITH_TTL = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return count
"""


class RateLimitRedisCache(RedisCache):
    _pending = threading.local()
    _scripts: dict = {}

    def add(self, key, value, timeout=None, version=None, client=None):
        if value != 1 or not timeout:
            return super().add(key, value, timeout=timeout, version=version, client=client)
        try:
            redis = self.client.get_client(write=True)
            count = int(
                redis.eval(_INCR_WITH_TTL, 1, self.client.make_key(key, version=version), int(timeout))
            )
        except Exception:
            logger.error("rate-limit counter unavailable", exc_info=True)
            return None
        if count == 1:
            return True
        self._pending.hit = (key, version, count)
        return False

    def incr(self, key, delta=1, version=None, client=None):
        hit = getattr(self._pending, "hit", None)
        self._pending.hit = None
        if hit is not None and hit[:2] == (key, version) and delta == 1:
            return hit[2]
        return super().incr(key, delta=delta, version=version, client=client)
