"""JWTs, issued and checked by simplejwt. Gatehouse adds the session id (`sid`) and role, and
signs with the key store's current key, naming it in the `kid` header (accounts.signing)."""

import copy
import hashlib
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import jwt
from django.conf import settings
from rest_framework_simplejwt.backends import TokenBackend
from rest_framework_simplejwt.exceptions import (
    ExpiredTokenError,
    TokenBackendError,
    TokenBackendExpiredToken,
    TokenError,
)
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken
from rest_framework_simplejwt.tokens import AccessToken, Token
from rest_framework_simplejwt.utils import datetime_from_epoch

from accounts import signing
from accounts.errors import TokenExpired, TokenNotValid


def token_kid(raw: str) -> str | None:
    """The `kid` header, unverified: it only chooses which of our keys checks the signature."""
    try:
        kid = jwt.get_unverified_header(raw).get("kid")
    except jwt.InvalidTokenError as exc:
        raise TokenBackendError("Token is invalid") from exc
    if kid is not None and not isinstance(kid, str):
        raise TokenBackendError("Token is invalid")
    return kid


class KeyedTokenBackend(TokenBackend):
    """simplejwt's backend with the key chosen per token by `kid`.

    Signs with the key store's current key (kid in the header). Verifies with the key the kid
    names and only that key's algorithm: the token's `alg` header never chooses anything, an
    unknown or retired kid is refused, and a token without a kid is checked as the HS256
    JWT_SIGNING_KEY tokens issued before kids existed. `iss` must be JWT_ISSUER or one of
    JWT_PREVIOUS_ISSUERS.
    """

    def __init__(self) -> None:  # keys, issuer and audience are read per call (settings may change)
        self.leeway = 0
        self.json_encoder = None
        self.jwks_client = None

    def encode(self, payload: dict[str, Any]) -> str:
        key = signing.signer()
        claims = {**payload, "aud": settings.JWT_AUDIENCE, "iss": settings.JWT_ISSUER}
        return jwt.encode(claims, key.signing, algorithm=key.algorithm, headers={"kid": key.kid})

    def decode(self, token, verify: bool = True) -> dict[str, Any]:
        if not verify:
            raise TokenBackendError("Token is invalid")  # never needed: nothing is read unverified
        key = signing.verifier_for(token_kid(token))
        if key is None:
            raise TokenBackendError("Token is invalid")
        try:
            return jwt.decode(
                token,
                key.verifying,
                algorithms=[key.algorithm],
                audience=settings.JWT_AUDIENCE,
                issuer=[settings.JWT_ISSUER, *settings.JWT_PREVIOUS_ISSUERS],
                leeway=self.leeway,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise TokenBackendExpiredToken("Token is expired") from exc
        except jwt.InvalidTokenError as exc:
            raise TokenBackendError("Token is invalid") from exc


token_backend = KeyedTokenBackend()


class SessionRefreshToken(Token):
    """A refresh token. Not simplejwt's RefreshToken: rotation, reuse detection and the
    blacklist are done by accounts.services against the session row, atomically."""

    token_type = "refresh"
    lifetime = api_settings.REFRESH_TOKEN_LIFETIME

    def get_token_backend(self) -> TokenBackend:
        return token_backend

    def set_jti(self) -> None:
        self.payload[api_settings.JTI_CLAIM] = time_ordered_jti()


class SessionAccessToken(AccessToken):
    token_type = "access"

    def get_token_backend(self) -> TokenBackend:
        return token_backend


def time_ordered_jti() -> str:
    """32 hex digits like simplejwt's uuid4().hex, but time-ordered: the clock in milliseconds
    (12 digits), then 80 random bits. Every refresh records its new jti in the outstanding-token
    table's jti indexes; random keys land on a random page of those indexes each time, which on
    millions of rows is rarely in PostgreSQL's cache, while ordered keys all go to the same
    right-hand page (as the row ids do). 80 random bits per millisecond keep them unique."""
    return f"{time.time_ns() // 1_000_000:012x}{secrets.token_hex(10)}"


REMEMBER_ME_CLAIM = "rmb"
# The session's absolute deadline (epoch seconds), so rotation caps `exp` without a read.
ABSOLUTE_EXPIRY_CLAIM = "aex"
# RFC 8176 authentication methods; the refresh token carries them too, so rotation keeps
# them without reading the session row.
AMR_CLAIM = "amr"
AMR_PASSWORD = ("pwd",)
AMR_PASSWORD_OTP = ("pwd", "otp")


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    refresh_jti: str
    expires_in: int
    refresh_expires_in: int
    refresh_expires_at: datetime
    # The refresh token's row for simplejwt's OutstandingToken table (already written unless
    # token_pair_issue(record=False): then the caller writes it in its own statement).
    refresh_record: dict = field(default_factory=dict)


def refresh_lifetime(*, remember_me: bool) -> timedelta:
    seconds = (
        settings.REFRESH_TOKEN_REMEMBER_ME_SECONDS if remember_me else settings.REFRESH_TOKEN_LIFETIME_SECONDS
    )
    return timedelta(seconds=seconds)


def token_digest(raw: str) -> str:
    """What the outstanding-token table keeps instead of a usable bearer token."""
    return "sha256:" + hashlib.sha256(raw.encode()).hexdigest()


def absolute_lifetime(*, remember_me: bool) -> timedelta:
    seconds = (
        settings.SESSION_ABSOLUTE_REMEMBER_ME_SECONDS
        if remember_me
        else settings.SESSION_ABSOLUTE_LIFETIME_SECONDS
    )
    return timedelta(seconds=seconds)


def token_pair_issue(
    *,
    session_id,
    user_id: int,
    role: str,
    remember_me: bool,
    absolute_expires_at: datetime,
    amr: tuple[str, ...] = AMR_PASSWORD,
    record: bool = True,
) -> TokenPair:
    """Sign a new access/refresh pair for a session and record the refresh token's jti
    (`record=False`: the caller records `pair.refresh_record` in its own statement).

    The refresh token never outlives the session's absolute deadline.
    """
    refresh = SessionRefreshToken()
    lifetime = min(refresh_lifetime(remember_me=remember_me), absolute_expires_at - refresh.current_time)
    lifetime = max(lifetime, timedelta(0))
    refresh.set_exp(from_time=refresh.current_time, lifetime=lifetime)
    refresh[ABSOLUTE_EXPIRY_CLAIM] = int(absolute_expires_at.timestamp())
    refresh["sub"] = str(user_id)
    refresh["sid"] = str(session_id)
    if remember_me:
        refresh[REMEMBER_ME_CLAIM] = True  # so rotation keeps the lifetime without a lookup
    refresh[AMR_CLAIM] = list(amr)

    access = SessionAccessToken()
    access.set_exp(from_time=refresh.current_time)
    access.set_iat(at_time=refresh.current_time)
    access["sub"] = str(user_id)
    access["sid"] = str(session_id)
    access["role"] = role
    access[AMR_CLAIM] = list(amr)

    raw_refresh = str(refresh)
    expires_at = datetime_from_epoch(refresh["exp"])
    refresh_record = {
        "user_id": user_id,
        "jti": refresh["jti"],
        "token": token_digest(raw_refresh),
        "created_at": refresh.current_time,
        "expires_at": expires_at,
    }
    if record:
        OutstandingToken.objects.create(**refresh_record)
    return TokenPair(
        access_token=str(access),
        refresh_token=raw_refresh,
        refresh_jti=refresh["jti"],
        expires_in=int(api_settings.ACCESS_TOKEN_LIFETIME.total_seconds()),
        refresh_expires_in=int(lifetime.total_seconds()),
        refresh_expires_at=expires_at,
        refresh_record=refresh_record,
    )


def _decode(token_class: type[Token], raw) -> Token:
    if not isinstance(raw, str) or not raw or len(raw) > 8192:
        raise TokenNotValid()
    try:
        token = token_class(raw)
    except ExpiredTokenError:
        raise TokenExpired() from None
    except (TokenError, ValueError, TypeError, UnicodeError):
        raise TokenNotValid() from None
    for claim in ("sub", "sid", "jti", "exp"):
        if not isinstance(token.payload.get(claim), (str, int)):
            raise TokenNotValid()
    token.kid = token_kid(raw)  # checked again on every use: a retired kid fails at once
    return token


@lru_cache(maxsize=4096)
def _access_token_verified(raw: str) -> Token:
    return _decode(SessionAccessToken, raw)


def access_token_decode(raw: str) -> Token:
    """Signature, algorithm, exp, iss, aud and token_type checked; raises TokenNotValid/Expired.

    A verified token is remembered per process (bounded LRU keyed by the exact string): the
    signature of a given string cannot change, and `exp` and the key (not retired, still
    trusted) are re-checked on every use, from memory. Failures are never cached. Revocation
    is checked separately, on every request.
    """
    if not isinstance(raw, str):
        raise TokenNotValid()
    token = _access_token_verified(raw)
    if token.payload["exp"] <= time.time():
        raise TokenExpired()
    if signing.keyset().verifier(token.kid) is None:
        raise TokenNotValid()
    return token


def refresh_token_decode(raw: str) -> Token:
    return _decode(SessionRefreshToken, raw)


def expired_refresh_token_claims(raw: str) -> dict | None:
    """The claims of a refresh token whose only fault is its `exp` (signature, issuer,
    audience and type still checked), so refresh can say why it ended; None otherwise."""
    backend = copy.copy(token_backend)
    backend.leeway = timedelta(days=36500)
    try:
        claims = backend.decode(raw, verify=True)
    except (TokenBackendError, ValueError, TypeError, UnicodeError):
        return None
    if claims.get(api_settings.TOKEN_TYPE_CLAIM) != SessionRefreshToken.token_type:
        return None
    return claims


def amr_of(claims) -> tuple[str, ...]:
    """The authentication methods a token names (tokens from before MFA: password only)."""
    amr = claims.get(AMR_CLAIM)
    if isinstance(amr, list) and all(isinstance(m, str) for m in amr):
        return tuple(amr)
    return AMR_PASSWORD
