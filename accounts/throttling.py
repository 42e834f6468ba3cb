"""Rate limits on django-ratelimit's counters, as DRF throttles (so 429 has Retry-After).

- public auth endpoints: per client IP (and per target email for password reset), each
  endpoint its own bucket, RATELIMIT_AUTH; /auth/verify and /auth/introspect at RATELIMIT_VERIFY;
- failed authentications (a bad, expired or revoked token or key): per client IP,
  RATELIMIT_AUTH_FAILURES; over it the credential is not even checked;
- authenticated requests: one budget per user at the current role's rate (RATELIMIT_<ROLE>),
  shared by tokens and keys; a key's own `rate_limit` is an extra, lower bound.

"Client IP" is core.request.client_ip_bucket: an IPv4 address or an IPv6 prefix.
Keys are computed here from the client IP, the parsed JSON body or the principal; never
django-ratelimit's `post:` keys, which read form data and would lump JSON clients together.
A cache outage fails open with a loud log line (health reports the cache down).
"""

import logging
import time
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.http import HttpRequest
from django_ratelimit import ALL
from django_ratelimit.core import EXPIRATION_FUDGE, _get_window, _make_cache_key, _split_rate, get_usage
from rest_framework.exceptions import Throttled
from rest_framework.throttling import BaseThrottle

from accounts.emails import email_lookup_key
from accounts.roles import rate_for, requests_per_second
from audit.models import Event, Outcome
from audit.services import audit_record
from core import metrics
from core.cache import cache_get_many
from core.request import RequestMeta, client_ip_bucket

logger = logging.getLogger("gatehouse.ratelimit")


class _RatelimitThrottle(BaseThrottle):
    """One django-ratelimit counter per (group, key); subclasses say which."""

    def bucket(self, request, view) -> tuple[str, str, str] | None:
        """(group, key, rate), or None when this throttle does not apply."""
        raise NotImplementedError

    def allow_request(self, request, view) -> bool:
        if not settings.RATELIMIT_ENABLE:
            return True
        bucket = self.bucket(request, view)
        if bucket is None:
            return True
        group, value, rate = bucket
        seen = _counted(request).get(bucket)
        if seen is None and _prefetch_pending(request):
            seen = _count_with_prefetch(request, bucket)
        if seen is not None:  # counted in the request's one round trip
            count, limit, window = seen
            if count <= limit:
                return True
            self.retry_after = max(1, window - int(time.time()))
        else:
            usage = get_usage(request, group=group, key=lambda _g, _r: value, rate=rate, increment=True)
            if usage is None:
                logger.error("rate limiting unavailable (cache down?): failing open for %s", group)
                return True
            if not usage["should_limit"]:
                return True
            self.retry_after = max(1, usage["time_left"])
        metrics.ratelimited(group)  # every refused request; the audit keeps one per window
        _audit_once_per_window(request, group=group, value=value, rate=rate, window_left=self.retry_after)
        return False

    def wait(self) -> float:
        return self.retry_after


def _audit_once_per_window(request, *, group: str, value: str, rate: str, window_left: int) -> None:
    """At most one ratelimit.exceeded event per client per window, so a flood cannot flood the log."""
    marker = f"rl-audited:{group}:{value}"
    try:
        first = caches[settings.RATELIMIT_USE_CACHE].add(marker, 1, window_left)
    except Exception:
        first = False
    if first:
        audit_record(
            event=Event.RATELIMIT_EXCEEDED,
            meta=RequestMeta.from_request(request),
            outcome=Outcome.FAILURE,
            details={"group": group, "rate": rate, "path": request.path[:200]},
        )


class ClientIPThrottle(_RatelimitThrottle):
    """Per client IP, one bucket per view (`ratelimit_group`)."""

    def bucket(self, request, view):
        return f"ip:{view.ratelimit_group}", client_ip_bucket(request) or "unknown", settings.RATELIMIT_AUTH


class VerifyIPThrottle(_RatelimitThrottle):
    """/auth/verify and /auth/introspect: per client IP, a bucket per view, RATELIMIT_VERIFY
    (higher than RATELIMIT_AUTH: resource servers call these on their own hot path)."""

    def bucket(self, request, view):
        return f"ip:{view.ratelimit_group}", client_ip_bucket(request) or "unknown", settings.RATELIMIT_VERIFY


class ResetEmailThrottle(_RatelimitThrottle):
    """Per target address, from the JSON body: one inbox cannot be flooded from many IPs."""

    def bucket(self, request, view):
        email = request.data.get("email") if isinstance(request.data, dict) else None
        if not isinstance(email, str) or not email.strip():
            return None
        return "email:password-reset", email_lookup_key(email)[:254], settings.RATELIMIT_AUTH


def principal_buckets(
    *, user_id: object, role: str, key_prefix: str | None = None, key_rate: str = ""
) -> list[tuple[str, str, str]]:
    """The (group, value, rate) counters one authenticated request hits: the user's budget at
    the role's rate, and a key's own `rate_limit` (bounded by the role's rate) when it has one."""
    role_rate = rate_for(role)
    found = [("user", str(user_id), role_rate)]
    if key_prefix and key_rate:
        found.append(("apikey", key_prefix, _lower_rate(key_rate, role_rate)))
    return found


def _counter_plan(buckets: list[tuple[str, str, str]]) -> tuple[list[tuple[str, int]], list[tuple[int, int]]]:
    """django-ratelimit's cache key and TTL for each bucket, and its (limit, window end)."""
    counters, windows = [], []
    prefix = getattr(settings, "RATELIMIT_CACHE_PREFIX", "rl:")
    for group, value, rate in buckets:
        limit, period = _split_rate(rate)
        window = _get_window(value, period)
        counters.append((_counter_key(group, window, rate, value, prefix), period + EXPIRATION_FUDGE))
        windows.append((limit, window))
    return counters, windows


@lru_cache(maxsize=4096)
def _counter_key(group: str, window: int, rate: str, value: str, prefix: str) -> str:
    """django-ratelimit's key for one window of a bucket (a hash of its parts): the same for
    every request of a principal until the window ends, so remembered per process."""
    return _make_cache_key(group, window, rate, value, ALL)


# Where auth_read leaves the counts it took, on the Django request, for PrincipalThrottle.
_COUNTED = "_gatehouse_counted"


def _counted(request) -> dict[tuple[str, str, str], tuple[int, int, int]]:
    """(count, limit, window end) per bucket the authentication's round trip counted."""
    return getattr(getattr(request, "_request", request), _COUNTED, None) or {}


def forecast_buckets(
    request, view, *, user_id: object, role: str, key_prefix: str | None = None, key_rate: str = ""
) -> list[tuple[str, str, str]]:
    """The buckets this view's throttles will hit for this principal, so the authentication
    can count them in its round trip: the per-user budget (PrincipalThrottle) and the
    per-address ones (ClientIPThrottle, VerifyIPThrottle). Only for a genuine credential: a
    request that fails authentication never reaches the throttles."""
    if not settings.RATELIMIT_ENABLE or view is None:
        return []
    found: list[tuple[str, str, str]] = []
    for cls in getattr(view, "throttle_classes", ()):
        if not isinstance(cls, type):
            continue
        if issubclass(cls, PrincipalThrottle):
            found += principal_buckets(user_id=user_id, role=role, key_prefix=key_prefix, key_rate=key_rate)
        elif issubclass(cls, ClientIPThrottle | VerifyIPThrottle):
            found.append(cls().bucket(request, view))
    return found


class PrincipalThrottle(BaseThrottle):
    """Authenticated requests: one budget per user at their current role's rate, shared by
    their tokens and every one of their keys; a key with its own `rate_limit` also counts
    against that, bounded by the role's rate now. Counted in the authentication's own round
    trip when it could foresee the buckets (auth_read), else here in one round trip."""

    def buckets(self, request) -> list[tuple[str, str, str]]:
        user = request.user
        if not (user and user.is_authenticated):
            return []
        return principal_buckets(
            user_id=user.id,
            role=user.role,
            key_prefix=getattr(request.auth, "prefix", None),
            key_rate=getattr(request.auth, "rate_limit", "") or "",
        )

    def allow_request(self, request, view) -> bool:
        if not settings.RATELIMIT_ENABLE:
            return True
        buckets = self.buckets(request)
        if not buckets:
            return True
        now = int(time.time())
        # (count, limit, window end) per bucket: counted by the authentication's round trip,
        # or here for any bucket it did not foresee.
        seen = _counted(request)
        missing = [bucket for bucket in buckets if bucket not in seen]
        if missing:
            counters, windows = _counter_plan(missing)
            fresh = _count(counters)
            if fresh is None:
                logger.error("rate limiting unavailable (cache down?): failing open for user")
                return True
            seen = {**seen, **_by_bucket(missing, fresh, windows)}
        counts = [seen[bucket][0] for bucket in buckets]
        windows = [seen[bucket][1:] for bucket in buckets]
        over = [
            (max(1, window - now), bucket)
            for count, (limit, window), bucket in zip(counts, windows, buckets, strict=True)
            if count > limit
        ]
        if not over:
            return True
        self.retry_after, (group, value, rate) = max(over)
        metrics.ratelimited(group)
        _audit_once_per_window(request, group=group, value=value, rate=rate, window_left=self.retry_after)
        return False

    def wait(self) -> float:
        return self.retry_after


def _lower_rate(first: str, second: str) -> str:
    return first if requests_per_second(first) <= requests_per_second(second) else second


def _count(counters: list[tuple[str, int]]) -> list[int] | None:
    """One hit on each counter: one round trip on the Redis counter (config.cache_backends),
    add-then-incr on any other cache (the local-memory one of a single dev process)."""
    cache = caches[settings.RATELIMIT_USE_CACHE]
    incr_many = getattr(cache, "incr_many", None)
    if incr_many is not None:
        return incr_many(counters)
    counts = []
    try:
        for key, timeout in counters:
            counts.append(1 if cache.add(key, 1, timeout) else cache.incr(key))
    except Exception:
        return None
    return counts


# --- Failed authentications ---------------------------------------------------------------
# A fixed window per client IP on the rate-limit cache: one GET before a credential is
# checked, one counted INCR (config.cache_backends) after it failed.
AUTH_FAILURES_GROUP = "auth-failures"
_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _auth_failure_window(request) -> tuple[str, str, int, int, int]:
    """(client bucket, cache key, limit, period, seconds left in the window)."""
    count, _, unit = settings.RATELIMIT_AUTH_FAILURES.partition("/")
    period = _PERIODS[unit[-1]] * int(unit[:-1] or 1)
    now = int(time.time())
    window = now - now % period
    bucket = client_ip_bucket(request) or "unknown"
    key = f"rl:{AUTH_FAILURES_GROUP}:{bucket}:{window}"
    return bucket, key, int(count), period, window + period - now


def auth_failures_check(request: HttpRequest) -> None:
    """Before a credential is checked: a client over RATELIMIT_AUTH_FAILURES gets 429
    (`Throttled`, so DRF answers it and treats the request as unauthenticated). Takes the
    Django request: DRF's would authenticate again when the audit asks who called."""
    if not settings.RATELIMIT_ENABLE:
        return
    window = _auth_failure_window(request)
    try:
        failures = caches[settings.RATELIMIT_USE_CACHE].get(window[1]) or 0
    except Exception:
        logger.error("rate limiting unavailable (cache down?): failing open for %s", AUTH_FAILURES_GROUP)
        return
    _refuse_if_over(request, window, int(failures))


def _refuse_if_over(request: HttpRequest, window: tuple[str, str, int, int, int], failures: int) -> None:
    bucket, _, limit, _, left = window
    if failures >= limit:
        _audit_once_per_window(
            request,
            group=AUTH_FAILURES_GROUP,
            value=bucket,
            rate=settings.RATELIMIT_AUTH_FAILURES,
            window_left=left,
        )
        raise Throttled(wait=max(1, left))


def auth_read(request: HttpRequest, keys: list[str], buckets: list[tuple[str, str, str]]) -> dict[str, Any]:
    """An authenticated request's cache work in one round trip, once its credential is known
    to be genuine (a JWT's signature checked, a key's secret matched): the client's failed
    authentications (over RATELIMIT_AUTH_FAILURES: `Throttled`, nothing read or counted), the
    default cache's entries `keys` (what the caller reads to decide), and one hit on each
    rate-limit bucket, kept on the request for PrincipalThrottle. The buckets are a forecast
    from the credential; the throttle counts again any it did not foresee (a role changed
    since the token was issued). Without a Redis pair that can do it, the same steps one by
    one; when the cache is down, nothing found (the database answers) and nothing counted."""
    rate_cache, reader = caches[settings.RATELIMIT_USE_CACHE], caches["default"]
    # Entries the view will read next (prefetch_keys), fetched in the same round trip.
    extra = (
        []
        if hasattr(request, _PREFETCHED)
        else [key for key in getattr(request, _PREFETCH, ()) if key not in keys]
    )
    guarded_read = getattr(rate_cache, "guarded_read", None)
    if guarded_read is None or not _same_redis() or not settings.RATELIMIT_ENABLE:
        auth_failures_check(request)
        found = cache_get_many([*keys, *extra])
    else:
        window = _auth_failure_window(request)
        counters, windows = _counter_plan(buckets)
        result = guarded_read((window[1], window[2]), [*keys, *extra], counters, reader=reader)
        if result is None:
            logger.error("rate limiting unavailable (cache down?): failing open for %s", AUTH_FAILURES_GROUP)
            # Nothing prefetched: the view reads the database, without trying Redis again.
            setattr(request, _PREFETCHED, {})
            return {}
        failures, found, counts = result
        _refuse_if_over(request, window, failures)
        setattr(request, _COUNTED, _by_bucket(buckets, counts, windows))
    if extra:
        setattr(request, _PREFETCHED, {key: found[key] for key in extra if key in found})
    return {key: found[key] for key in keys if key in found}


# The keys a view asks to be read with the authentication's round trip, and what was found.
_PREFETCH, _PREFETCHED = "_gatehouse_prefetch", "_gatehouse_prefetched"


def prefetch_keys(request: HttpRequest, keys: list[str]) -> None:
    """Before authentication: cache entries this request will read next (the token an
    introspection asks about), so the authentication's round trip fetches them too."""
    setattr(request, _PREFETCH, tuple(keys))


def _prefetch_pending(request) -> bool:
    django_request = getattr(request, "_request", request)
    return bool(getattr(django_request, _PREFETCH, ())) and not hasattr(django_request, _PREFETCHED)


def _count_with_prefetch(request, bucket: tuple[str, str, str]) -> tuple[int, int, int] | None:
    """A public view's throttle (no authentication ran): its counter and the entries the view
    named (prefetch_keys) in one round trip. None when that cannot be done here."""
    django_request = getattr(request, "_request", request)
    rate_cache = caches[settings.RATELIMIT_USE_CACHE]
    guarded_read = getattr(rate_cache, "guarded_read", None)
    if guarded_read is None or not _same_redis():
        return None
    keys = list(getattr(django_request, _PREFETCH, ()))
    counters, windows = _counter_plan([bucket])
    result = guarded_read(None, keys, counters, reader=caches["default"])
    if result is None:
        setattr(django_request, _PREFETCHED, {})  # not tried again in this request
        return None
    _, found, counts = result
    setattr(django_request, _PREFETCHED, found)
    counted = _by_bucket([bucket], counts, windows)
    setattr(django_request, _COUNTED, {**_counted(django_request), **counted})
    return counted[bucket]


def prefetched_read(request: HttpRequest):
    """A cache read that answers from what the authentication's round trip prefetched when
    it holds every key asked for (missing ones were absent then), else reads the cache."""
    prefetched = getattr(request, _PREFETCHED, None)
    asked = set(getattr(request, _PREFETCH, ()))

    def read(keys: list[str]) -> dict[str, Any]:
        if prefetched is not None and set(keys) <= asked:
            return {key: prefetched[key] for key in keys if key in prefetched}
        return cache_get_many(keys)

    return read


def _by_bucket(buckets, counts, windows) -> dict[tuple[str, str, str], tuple[int, int, int]]:
    return {
        bucket: (count, limit, window)
        for bucket, count, (limit, window) in zip(buckets, counts, windows, strict=True)
    }


def _same_redis() -> bool:
    """Whether the default and rate-limit caches are one Redis with one key scheme, so one
    script may read the first's entries beside the second's counters."""
    default, rate = settings.CACHES["default"], settings.CACHES[settings.RATELIMIT_USE_CACHE]
    same = ("LOCATION", "KEY_PREFIX", "KEY_FUNCTION", "VERSION")
    return all(default.get(name) == rate.get(name) for name in same)


def auth_failure_count(request: HttpRequest) -> None:
    """After a credential failed: one more against this client's budget."""
    if not settings.RATELIMIT_ENABLE:
        return
    _, key, _, period, _ = _auth_failure_window(request)
    cache = caches[settings.RATELIMIT_USE_CACHE]
    try:
        if not cache.add(key, 1, period + 1):
            cache.incr(key)
    except Exception:
        logger.error("rate limiting unavailable (cache down?): failing open for %s", AUTH_FAILURES_GROUP)
