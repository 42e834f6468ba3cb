"""The rate-limit cache: django-redis with a counter that costs one round trip.

The seam, and what it relies on. django-ratelimit 4.1's `get_usage(..., increment=True)`
calls `cache.add(key, 1, period + fudge)` and, only when that returns False (the key
existed), `cache.incr(key)` next, on the same cache object; it reads no other method.
`add` here runs one registered Lua script (INCR, and EXPIRE on the first hit): the count
is then known, so `add` answers True for a first hit and otherwise keeps the count for the
`incr` that follows, which returns it without a second round trip. Django gives each thread
(and async context) its own cache object, so the count cannot reach another request.
tests/test_ratelimit_counter.py pins this call order against the installed django-ratelimit,
so an upgrade that changes it fails loudly instead of silently costing a round trip.
`incr_many` is the second entry of the seam: several counters (a user's shared budget and
one key's own bound) counted by one script, one round trip; accounts.throttling uses it.
`guarded_read` is the third: an authenticated request's whole cache work in one round trip
(the client's failed-authentication count, the principal's cached state, its rate-limit
counters), for accounts.throttling.auth_read. Any other use behaves like the plain
django-redis cache.
"""

import logging
from typing import Any

from django_redis.cache import RedisCache

logger = logging.getLogger("gatehouse.ratelimit")

INCR_WITH_TTL = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return count
"""

INCR_MANY_WITH_TTL = """
local counts = {}
for i, key in ipairs(KEYS) do
  local count = redis.call('INCR', key)
  if count == 1 then redis.call('EXPIRE', key, ARGV[i]) end
  counts[i] = count
end
return counts
"""


# KEYS: the guard counter (absent when ARGV[1] is 'none'), then `ARGV[2]` keys to read, then
# counters to hit. ARGV: the guard's limit or 'none', the number of keys to read, then one TTL
# per counter. Over the guard's limit it stops there: nothing is read and nothing is counted.
GUARDED_READ = """
local first, guard = 1, 0
if ARGV[1] ~= 'none' then
  guard = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
  if guard >= tonumber(ARGV[1]) then return {guard} end
  first = 2
end
local reads = tonumber(ARGV[2])
local out = {guard}
if reads > 0 then
  local values = redis.call('MGET', unpack(KEYS, first, first + reads - 1))
  for i = 1, reads do out[i + 1] = values[i] end
end
for i = first + reads, #KEYS do
  local count = redis.call('INCR', KEYS[i])
  if count == 1 then redis.call('EXPIRE', KEYS[i], ARGV[i - first - reads + 3]) end
  out[#out + 1] = count
end
return out
"""


class RateLimitRedisCache(RedisCache):
    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._counter: Any = None  # redis-py Script: EVALSHA, loading the script once if needed
        self._counted: tuple[Any, Any, int] | None = None  # (key, version, count) from `add`
        self._many_counter: Any = None
        self._guarded_read: Any = None

    def guarded_read(
        self,
        guard: tuple[str, int] | None,
        reads: list[str],
        counters: list[tuple[str, int]],
        *,
        reader: RedisCache,
    ) -> tuple[int, dict[str, Any], list[int]] | None:
        """One round trip: the guard counter's value (0 without a guard); unless it is at its
        limit, the entries `reads` of `reader` (a cache on the same Redis, whose keys and values
        these are) and one hit on each (key, timeout) counter of this cache. None when Redis is
        down."""
        try:
            if self._guarded_read is None:
                self._guarded_read = self.client.get_client(write=True).register_script(GUARDED_READ)
            keys = [
                *([self.client.make_key(guard[0])] if guard else []),
                *(reader.client.make_key(key) for key in reads),
                *(self.client.make_key(key) for key, _ in counters),
            ]
            args = [guard[1] if guard else "none", len(reads), *(int(timeout) for _, timeout in counters)]
            out = self._guarded_read(keys=keys, args=args)
        except Exception:
            logger.error("rate-limit cache unavailable", exc_info=True)
            return None
        guard_value = int(out[0])
        if guard is not None and guard_value >= guard[1]:
            return guard_value, {}, []
        decode = reader.client.decode
        values = out[1 : len(reads) + 1]
        found = {key: decode(value) for key, value in zip(reads, values, strict=True) if value is not None}
        return guard_value, found, [int(count) for count in out[len(reads) + 1 :]]

    def incr_many(self, counters: list[tuple[str, int]]) -> list[int] | None:
        """Count one hit on each (key, timeout) in one round trip; None when Redis is down."""
        try:
            if self._many_counter is None:
                self._many_counter = self.client.get_client(write=True).register_script(INCR_MANY_WITH_TTL)
            keys = [self.client.make_key(key) for key, _ in counters]
            return [int(c) for c in self._many_counter(keys=keys, args=[int(t) for _, t in counters])]
        except Exception:
            logger.error("rate-limit counter unavailable", exc_info=True)
            return None

    def add(self, key, value, timeout=None, version=None, client=None):
        if value != 1 or not timeout:
            return super().add(key, value, timeout=timeout, version=version, client=client)
        self._counted = None
        try:
            if self._counter is None:
                self._counter = self.client.get_client(write=True).register_script(INCR_WITH_TTL)
            redis_key = self.client.make_key(key, version=version)
            count = int(self._counter(keys=[redis_key], args=[int(timeout)]))
        except Exception:
            logger.error("rate-limit counter unavailable", exc_info=True)
            return None
        if count == 1:
            return True
        self._counted = (key, version, count)
        return False

    def incr(self, key, delta=1, version=None, client=None):
        counted, self._counted = self._counted, None
        if counted is not None and counted[:2] == (key, version) and delta == 1:
            return counted[2]
        return super().incr(key, delta=delta, version=version, client=client)
