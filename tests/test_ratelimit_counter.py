"""The rate-limit counter's seam (config/cache_backends.py), pinned against the installed
django-ratelimit: if an upgrade changes how get_usage talks to the cache, these fail."""

import pytest
from django.conf import settings
from django.core.cache import caches
from django.test import RequestFactory
from django_ratelimit import core as ratelimit_core
from django_ratelimit.core import get_usage

from config.cache_backends import RateLimitRedisCache
from tests.conftest import services_required


class RecordingCache:
    """Records every call get_usage makes on the cache, and counts like a cache would."""

    def __init__(self):
        self.calls: list[tuple] = []
        self.values: dict[str, int] = {}

    def add(self, key, value, timeout=None, version=None):
        self.calls.append(("add", key, value, timeout))
        if key in self.values:
            return False
        self.values[key] = value
        return True

    def incr(self, key, delta=1, version=None):
        self.calls.append(("incr", key, delta))
        self.values[key] += delta
        return self.values[key]

    def __getattr__(self, name):
        raise AssertionError(f"get_usage called cache.{name}, which the counter does not serve")


def usage(value: str = "203.0.113.7", rate: str = "5/m") -> dict:
    request = RequestFactory().get("/")
    return get_usage(request, group="pin", key=lambda _g, _r: value, rate=rate, increment=True)


def test_django_ratelimit_counts_with_add_then_incr_and_nothing_else(monkeypatch):
    recorder = RecordingCache()
    monkeypatch.setattr(ratelimit_core, "caches", {settings.RATELIMIT_USE_CACHE: recorder})
    first = usage()
    [(verb, key, value, timeout)] = recorder.calls
    assert (verb, value, timeout) == ("add", 1, 60 + ratelimit_core.EXPIRATION_FUDGE)
    assert first["count"] == 1 and not first["should_limit"]

    recorder.calls.clear()
    second = usage()
    assert recorder.calls == [("add", key, 1, timeout), ("incr", key, 1)]
    assert second["count"] == 2


@pytest.mark.django_db
def test_the_redis_counter_costs_one_round_trip_per_check(monkeypatch):
    services_required()
    counter = caches[settings.RATELIMIT_USE_CACHE]
    assert isinstance(counter, RateLimitRedisCache)
    usage(value="warm-up")  # the first use loads the script into Redis once
    redis = counter.client.get_client(write=True)
    commands: list[tuple] = []
    real = redis.execute_command

    def recording(*args, **kwargs):
        commands.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(redis, "execute_command", recording)
    counts = [usage(value="198.51.100.4", rate="2/m")["count"] for _ in range(3)]
    assert counts == [1, 2, 3]
    assert [str(command[0]).upper() for command in commands] == ["EVALSHA"] * 3
    key = commands[0][3]  # EVALSHA sha numkeys key ttl
    assert 0 < redis.ttl(key) <= 60 + ratelimit_core.EXPIRATION_FUDGE
