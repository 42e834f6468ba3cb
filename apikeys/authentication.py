import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed

from accounts.authentication import bearer_credential
from accounts.principal import Principal
from accounts.throttling import (
    auth_failure_count,
    auth_failures_check,
    auth_read,
    forecast_buckets,
)
from apikeys.cache import key_state_expired, key_state_get
from apikeys.errors import KeyExpired, KeyNotValid, KeyRevoked
from apikeys.keys import KEY_PREFIX, key_parse, secret_hash
from core import metrics
from core.cache import cache_get_many

Reader = Callable[[list[str]], dict[str, Any]]


@dataclass(frozen=True)
class KeyPrincipal:
    """`request.auth` for a key: what permissions and rate limits need, no secret."""

    id: int
    prefix: str
    scopes: tuple[str, ...]
    rate_limit: str
    expires_at: int | None = None  # microseconds since the epoch


def key_state_verified(raw: str, *, read_for: Callable[[str, str], Reader] | None = None) -> dict:
    """The cached state of a live key (secret checked, not revoked or expired, owner active).

    Raises KeyNotValid / KeyRevoked / KeyExpired. Shared by the authentication class and
    introspection, so both accept exactly the same keys. `read_for(prefix, presented secret
    hash)` gives the cache read to use (the authentication's one round trip).
    """
    parsed = key_parse(raw)
    if parsed is None:
        raise KeyNotValid()
    prefix, secret = parsed
    presented = secret_hash(secret)
    state = key_state_get(prefix, read=read_for(prefix, presented) if read_for else cache_get_many)
    if state is None or not hmac.compare_digest(presented, state["secret_hash"]):
        raise KeyNotValid()
    if state["revoked"]:
        raise KeyRevoked()
    if key_state_expired(state):
        raise KeyExpired()
    if not state["owner"]["is_active"]:
        raise KeyRevoked()
    return state


# What this process last saw of each key it authenticated: (secret hash, owner id, owner role,
# the key's rate_limit). Only to foresee a request's rate-limit buckets, so they are counted in
# the same round trip as the key's state; never to decide anything. A presented secret whose
# hash differs forecasts nothing: nobody can spend a key's or its owner's budget without the
# key. Bounded; a stale forecast (a role changed) is corrected by the throttle.
_FORECASTS: dict[str, tuple[str, int, str, str]] = {}
_FORECASTS_MAX = 10_000


def _forecast(request, view, prefix: str, presented: str) -> list[tuple[str, str, str]]:
    seen = _FORECASTS.get(prefix)
    if seen is None or not hmac.compare_digest(seen[0], presented):
        return []
    _, owner_id, role, rate_limit = seen
    return forecast_buckets(
        request, view, user_id=owner_id, role=role, key_prefix=prefix, key_rate=rate_limit
    )


def _remember(state: dict) -> None:
    if len(_FORECASTS) >= _FORECASTS_MAX:
        _FORECASTS.clear()
    owner = state["owner"]
    _FORECASTS[state["prefix"]] = (state["secret_hash"], owner["id"], owner["role"], state["rate_limit"])


class APIKeyAuthentication(BaseAuthentication):
    """`X-API-Key: <key>` or `Authorization: Bearer gk_...`; None for anything else.

    A warm key costs one cache round trip: the client's failure count, the key's state and
    (once this process has seen the key) its rate-limit hits together
    (accounts.throttling.auth_read). Failed keys count per client IP; a client over
    RATELIMIT_AUTH_FAILURES gets 429 whatever its key."""

    def authenticate(self, request):
        django_request = getattr(request, "_request", request)
        try:
            raw = request.META.get("HTTP_X_API_KEY")
            if raw is None:
                bearer = bearer_credential(request)
                if bearer is None or not bearer.startswith(KEY_PREFIX):
                    return None
                raw = bearer
            raw = raw.strip()
            if key_parse(raw) is None:
                auth_failures_check(django_request)
            view = (getattr(request, "parser_context", None) or {}).get("view")

            def read_for(prefix: str, presented: str) -> Reader:
                buckets = _forecast(request, view, prefix, presented)
                return lambda keys: auth_read(django_request, keys, buckets)

            try:
                state = key_state_verified(raw, read_for=read_for)
            except KeyNotValid as exc:
                metrics.apikey_auth(exc.code)
                raise AuthenticationFailed(exc.message, code=exc.code) from None
            metrics.apikey_auth(None)
            _remember(state)
            return self._principals(state)
        except AuthenticationFailed:
            auth_failure_count(django_request)
            raise

    def _principals(self, state: dict):
        principal = KeyPrincipal(
            id=state["id"],
            prefix=state["prefix"],
            scopes=tuple(state["scopes"]),
            rate_limit=state["rate_limit"],
            expires_at=state["expires_at"],
        )
        return Principal.from_snapshot(state["owner"]), principal

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="gatehouse"'
