"""Session JWTs, on simplejwt's authentication class and its hooks."""

from collections.abc import Callable
from typing import Any

from rest_framework import HTTP_HEADER_ENCODING
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.tokens import Token

from accounts import auth_state
from accounts.errors import TOKEN_NOT_VALID, TokenNotValid
from accounts.principal import Principal
from accounts.throttling import (
    auth_failure_count,
    auth_failures_check,
    auth_read,
    forecast_buckets,
)
from accounts.tokens import access_token_decode
from core.cache import cache_get_many

API_KEY_PREFIX = "gk_"


def authorization_header(request: Request) -> bytes:
    """The `Authorization` header as bytes, as DRF's `get_authorization_header` gives it, read
    from the WSGI environ: DRF's reads `request.headers`, which parses every header of the
    request into a mapping first (on every authenticated request, twice with API keys first)."""
    auth = request.META.get("HTTP_AUTHORIZATION", b"")
    if isinstance(auth, str):
        auth = auth.encode(HTTP_HEADER_ENCODING)
    return auth


def bearer_credential(request: Request) -> str | None:
    """The credential after `Bearer `, None when the header is absent or another scheme."""
    return _bearer_credential(authorization_header(request))


def _bearer_credential(header: bytes) -> str | None:
    if not header:
        return None
    parts = header.split()
    if not parts or parts[0].lower() != b"bearer":
        return None
    if len(parts) != 2:
        raise AuthenticationFailed(TOKEN_NOT_VALID, code=TokenNotValid.code)
    try:
        return parts[1].decode("ascii")
    except UnicodeDecodeError:
        raise AuthenticationFailed(TOKEN_NOT_VALID, code=TokenNotValid.code) from None


class SessionJWTAuthentication(JWTAuthentication):
    """`Authorization: Bearer <access JWT>`, checked against the session's revocation state.

    simplejwt's `authenticate` runs the hooks below: the header (any case of "Bearer"), the
    raw token (None for an API key, `gk_...`, so the API-key class can take it), the token
    checked by accounts.tokens; then the user, a `Principal` from the shared cache (never a
    database row), read in the request's one round trip (`_principal` passes `get_user` that read).
    """

    www_authenticate_realm = "gatehouse"

    def authenticate(self, request: Request) -> tuple[Principal, Token] | None:  # type: ignore[override]
        """simplejwt's steps, with failed tokens counted per client IP and a client over
        RATELIMIT_AUTH_FAILURES refused (429) whatever its token.

        The signature is checked first, locally; then one cache round trip answers the
        client's failure count, the session and user state and, when the view counts the
        principal's budget, the rate-limit hit (accounts.throttling.auth_read), so a valid
        token costs one round trip. A token that fails its signature check costs the failure
        check and count."""
        django_request = getattr(request, "_request", request)
        try:
            raw_token = self.get_raw_token(self.get_header(request))
            if raw_token is None:
                return None
            try:
                validated_token = self.get_validated_token(raw_token)
            except AuthenticationFailed:
                auth_failures_check(django_request)
                raise
            return self._principal(request, django_request, validated_token), validated_token
        except AuthenticationFailed:
            auth_failure_count(django_request)
            raise

    def _principal(self, request: Request, django_request, token: Token) -> Principal:
        view = (getattr(request, "parser_context", None) or {}).get("view")
        role = token.get("role")
        buckets = (
            forecast_buckets(request, view, user_id=token.get("sub"), role=role)
            if isinstance(role, str)
            else []
        )
        return self.get_user(token, read=lambda keys: auth_read(django_request, keys, buckets))

    def get_header(self, request: Request) -> bytes:
        return authorization_header(request)

    def get_raw_token(self, header: bytes) -> bytes | None:
        raw = _bearer_credential(header)
        if raw is None or raw.startswith(API_KEY_PREFIX):
            return None
        return raw.encode("ascii")

    def get_validated_token(self, raw_token: bytes) -> Token:
        try:
            return access_token_decode(raw_token.decode("ascii"))
        except TokenNotValid as exc:
            raise AuthenticationFailed(exc.message, code=exc.code) from None

    def get_user(  # type: ignore[override]
        self, validated_token: Token, read: Callable[[list[str]], dict[str, Any]] = cache_get_many
    ) -> Principal:
        """simplejwt's hook: the token's live user, from the shared cache through `read`."""
        try:
            return auth_state.principal_get(
                user_id=str(validated_token["sub"]), session_id=str(validated_token["sid"]), read=read
            )
        except TokenNotValid as exc:
            raise AuthenticationFailed(exc.message, code=exc.code) from None

    def authenticate_header(self, request: Request) -> str:
        return f'Bearer realm="{self.www_authenticate_realm}"'
