"""JWTs, issued and checked by simplejwt. Gatehouse adds the session id (`sid`) and role."""

import hashlib
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from django.conf import settings
from rest_framework_simplejwt.exceptions import ExpiredTokenError, TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken
from rest_framework_simplejwt.tokens import AccessToken, Token
from rest_framework_simplejwt.utils import datetime_from_epoch

from accounts.errors import TokenExpired, TokenNotValid


class SessionRefreshToken(Token):
    """A refresh token. Not simplejwt's RefreshToken: rotation, reuse detection and the
    blacklist are done by accounts.services against the session row, atomically."""

    token_type = "refresh"
    lifetime = api_settings.REFRESH_TOKEN_LIFETIME


class SessionAccessToken(AccessToken):
    token_type = "access"


REMEMBER_ME_CLAIM = "rmb"
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


def refresh_lifetime(*, remember_me: bool) -> timedelta:
    seconds = (
        settings.REFRESH_TOKEN_REMEMBER_ME_SECONDS if remember_me else settings.REFRESH_TOKEN_LIFETIME_SECONDS
    )
    return timedelta(seconds=seconds)


def token_digest(raw: str) -> str:
    """What the outstanding-token table keeps instead of a usable bearer token."""
    return "sha256:" + hashlib.sha256(raw.encode()).hexdigest()


def token_pair_issue(
    *, session_id, user_id: int, role: str, remember_me: bool, amr: tuple[str, ...] = AMR_PASSWORD
) -> TokenPair:
    """Sign a new access/refresh pair for a session and record the refresh token's jti."""
    refresh = SessionRefreshToken()
    lifetime = refresh_lifetime(remember_me=remember_me)
    refresh.set_exp(from_time=refresh.current_time, lifetime=lifetime)
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
    OutstandingToken.objects.create(
        user_id=user_id,
        jti=refresh["jti"],
        token=token_digest(raw_refresh),
        created_at=refresh.current_time,
        expires_at=expires_at,
    )
    return TokenPair(
        access_token=str(access),
        refresh_token=raw_refresh,
        refresh_jti=refresh["jti"],
        expires_in=int(api_settings.ACCESS_TOKEN_LIFETIME.total_seconds()),
        refresh_expires_in=int(lifetime.total_seconds()),
        refresh_expires_at=expires_at,
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
    return token


@lru_cache(maxsize=4096)
def _access_token_verified(raw: str) -> Token:
    return _decode(SessionAccessToken, raw)


def access_token_decode(raw: str) -> Token:
    """Signature, algorithm, exp, iss, aud and token_type checked; raises TokenNotValid/Expired.

    A verified token is remembered per process (bounded LRU keyed by the exact string): the
    signature of a given string cannot change, and `exp` is re-checked on every use. Failures
    are never cached. Revocation is checked separately, on every request.
    """
    if not isinstance(raw, str):
        raise TokenNotValid()
    token = _access_token_verified(raw)
    if token.payload["exp"] <= time.time():
        raise TokenExpired()
    return token


def refresh_token_decode(raw: str) -> Token:
    return _decode(SessionRefreshToken, raw)


def amr_of(claims) -> tuple[str, ...]:
    """The authentication methods a token names (tokens from before MFA: password only)."""
    amr = claims.get(AMR_CLAIM)
    if isinstance(amr, list) and all(isinstance(m, str) for m in amr):
        return tuple(amr)
    return AMR_PASSWORD
