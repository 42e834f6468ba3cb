from dataclasses import dataclass

from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed

from accounts.authentication import bearer_credential
from accounts.principal import Principal
from accounts.throttling import auth_failure_count, auth_failures_check
from apikeys.cache import key_state_expired, key_state_get
from apikeys.errors import KeyExpired, KeyNotValid, KeyRevoked
from apikeys.keys import KEY_PREFIX, key_parse, secret_matches
from core import metrics


@dataclass(frozen=True)
class KeyPrincipal:
    """`request.auth` for a key: what permissions and rate limits need, no secret."""

    id: int
    prefix: str
    scopes: tuple[str, ...]
    rate_limit: str
    expires_at: int | None = None  # microseconds since the epoch


def key_state_verified(raw: str) -> dict:
    """The cached state of a live key (secret checked, not revoked or expired, owner active).

    Raises KeyNotValid / KeyRevoked / KeyExpired. Shared by the authentication class and
    introspection, so both accept exactly the same keys.
    """
    parsed = key_parse(raw)
    if parsed is None:
        raise KeyNotValid()
    prefix, secret = parsed
    state = key_state_get(prefix)
    if state is None or not secret_matches(secret, state["secret_hash"]):
        raise KeyNotValid()
    if state["revoked"]:
        raise KeyRevoked()
    if key_state_expired(state):
        raise KeyExpired()
    if not state["owner"]["is_active"]:
        raise KeyRevoked()
    return state


class APIKeyAuthentication(BaseAuthentication):
    """`X-API-Key: <key>` or `Authorization: Bearer gk_...`; None for anything else."""

    def authenticate(self, request):
        django_request = getattr(request, "_request", request)
        try:
            raw = request.META.get("HTTP_X_API_KEY")
            if raw is None:
                bearer = bearer_credential(request)
                if bearer is None or not bearer.startswith(KEY_PREFIX):
                    return None
                raw = bearer
            # Failed keys count per client IP; over RATELIMIT_AUTH_FAILURES the key is not checked.
            auth_failures_check(django_request)
            try:
                result = self._check(raw.strip())
            except KeyNotValid as exc:
                metrics.apikey_auth(exc.code)
                raise AuthenticationFailed(exc.message, code=exc.code) from None
            metrics.apikey_auth(None)
            return result
        except AuthenticationFailed:
            auth_failure_count(django_request)
            raise

    def _check(self, raw: str):
        state = key_state_verified(raw)
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
