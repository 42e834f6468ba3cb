"""RFC 7662 introspection: is this access token or API key active now, and whose is it?

The answer reuses the checks that authenticate requests (access_token_decode and
auth_state.principal_get for JWTs, key_state_verified for keys), so a token is active here
exactly when it would authenticate a request, revocations included. A warm answer costs one
cache round trip and no query. Anything else is `{"active": False}`, with no reason: a resource
server needs no more, and a probing caller learns nothing.

Lives in apikeys (the top layer) because it answers for both JWTs and keys.
"""

from collections.abc import Callable
from typing import Any

from rest_framework_simplejwt.settings import api_settings

from accounts import auth_state
from accounts.auth_state import version_key
from accounts.errors import TokenNotValid
from accounts.roles import ROLE_SCOPES
from accounts.tokens import access_token_decode
from apikeys.authentication import key_state_verified
from apikeys.cache import key_cache_key
from apikeys.errors import KeyNotValid
from apikeys.keys import KEY_PREFIX, key_parse
from apikeys.models import APIKey
from core.cache import cache_get_many

Reader = Callable[[list[str]], dict[str, Any]]

INACTIVE = {"active": False}
# RFC 7662's registered hints, and ours for keys. A hint only has to be known: the token's
# shape says what it is (a key starts with gk_, a JWT has two dots), as RFC 7662 2.1 allows.
KNOWN_HINTS = frozenset({"access_token", "refresh_token", "api_key"})
TOKEN_MAX_LENGTH = 8192


def introspection_keys(raw_token: object) -> list[str]:
    """The cache entries answering for this token: its session and user state (a JWT whose
    signature holds) or its key state (a well-formed key); none for anything else."""
    if not isinstance(raw_token, str) or not raw_token or len(raw_token) > TOKEN_MAX_LENGTH:
        return []
    if raw_token.startswith(KEY_PREFIX):
        parsed = key_parse(raw_token)
        if parsed is None:
            return []
        cache_key = key_cache_key(parsed[0])
        return [cache_key, version_key(cache_key)]
    return auth_state.access_token_state_keys(raw_token)


def _scope(scopes) -> str:
    return " ".join(sorted(scopes))


def _access_token_answer(raw: str, read: Reader) -> dict:
    token = access_token_decode(raw)
    claims = token.payload
    user = auth_state.principal_get(user_id=str(claims["sub"]), session_id=str(claims["sid"]), read=read)
    return {
        "active": True,
        "token_type": "access_token",
        "sub": str(claims["sub"]),
        "username": user.username,
        "role": user.role,
        "scope": _scope(ROLE_SCOPES.get(user.role, ())),
        "exp": int(claims["exp"]),
        "iat": int(claims["iat"]) if isinstance(claims.get("iat"), (int, float)) else None,
        # The token's own: a token issued under an earlier issuer stays valid until it expires.
        "iss": claims.get("iss"),
        "aud": claims.get("aud"),
        "sid": str(claims["sid"]),
    }


def _key_answer(raw: str, read: Reader) -> dict:
    state = key_state_verified(raw, read_for=lambda _prefix, _presented: read)
    owner = state["owner"]
    created_at = state.get("created_at")
    if created_at is None:  # an entry cached before `created_at` was kept (at most a minute)
        created = APIKey.objects.filter(pk=state["id"]).values_list("created_at", flat=True).first()
        created_at = int(created.timestamp()) if created else None
    return {
        "active": True,
        "token_type": "api_key",
        "sub": str(owner["id"]),
        "username": owner["username"],
        "role": owner["role"],
        # A key's power is its scopes within what its owner's role allows now.
        "scope": _scope(ROLE_SCOPES.get(owner["role"], frozenset()) & frozenset(state["scopes"])),
        "exp": state["expires_at"] // 1_000_000 if state["expires_at"] is not None else None,
        "iat": created_at,
        "iss": api_settings.ISSUER,
        "aud": api_settings.AUDIENCE,
        "key_prefix": state["prefix"],
    }


def token_introspect(*, raw_token: str, hint=None, read: Reader = cache_get_many) -> dict:
    """The RFC 7662 answer for a token or key; never raises for anything the caller sent.
    `read` reads the cache (what the caller's authentication prefetched: introspection_keys)."""
    if hint not in (None, "") and not (isinstance(hint, str) and hint in KNOWN_HINTS):
        return dict(INACTIVE)
    if len(raw_token) > TOKEN_MAX_LENGTH:
        return dict(INACTIVE)
    try:
        if raw_token.startswith(KEY_PREFIX):
            return _key_answer(raw_token, read)
        return _access_token_answer(raw_token, read)
    except (TokenNotValid, KeyNotValid):
        return dict(INACTIVE)
