"""Verifier: access tokens checked locally against Gatehouse's JWKS, API keys by introspection."""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

import jwt

from gatehouse_client import errors
from gatehouse_client.errors import GatehouseUnavailable, InvalidToken
from gatehouse_client.principal import (
    ACCESS_TOKEN,
    API_KEY,
    ROLE_SCOPES,
    VIA_INTROSPECTION,
    VIA_JWKS,
    Principal,
)

logger = logging.getLogger("gatehouse_client")

__version__ = "0.1.0"

DEFAULT_ALGORITHMS = ("EdDSA", "ES256", "RS256")
# Only public-key algorithms: a resource server must never hold a key that can mint tokens,
# so HS* (and "none") are refused whatever the token or the JWKS says.
ASYMMETRIC_ALGORITHMS = frozenset(
    {"EdDSA", "ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}
)
# The contract's access-token claims; a token missing one is not a Gatehouse access token.
REQUIRED_CLAIMS = ("sub", "role", "sid", "jti", "iat", "exp", "iss", "aud", "token_type")

DISCOVERY_PATH = "/.well-known/oauth-authorization-server"
JWKS_PATH = "/.well-known/jwks.json"
INTROSPECTION_PATH = "/api/v1/auth/introspect"

API_KEY_PREFIX = "gk_"
MAX_TOKEN_LENGTH = 8192
MAX_RESPONSE_BYTES = 1 << 20
DEFAULT_JWKS_MAX_AGE = 300.0
DEFAULT_DISCOVERY_MAX_AGE = 3600.0
MIN_HEADER_MAX_AGE = 60.0
MAX_HEADER_MAX_AGE = 86400.0
# After a failed fetch with nothing cached, requests fail fast for this long instead of each
# waiting for a timeout while Gatehouse is down.
RETRY_AFTER_FAILURE = 5.0
# With a stale copy to fall back on, a failed refresh is retried after this long.
STALE_RETRY_SECONDS = 60.0

_MAX_AGE_RE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d+)\"?\s*(?:,|$)", re.IGNORECASE)
_NO_CACHE_RE = re.compile(r"(?:^|,)\s*(?:no-store|no-cache)\s*(?:,|$)", re.IGNORECASE)


def cache_control_max_age(header: str | None) -> float | None:
    """Seconds a response may be cached for, from its Cache-Control header (None: not said)."""
    if not header:
        return None
    if _NO_CACHE_RE.search(header):
        return 0.0
    match = _MAX_AGE_RE.search(header)
    return float(match.group(1)) if match else None


@dataclass(frozen=True, slots=True)
class _Response:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        if len(self.body) > MAX_RESPONSE_BYTES:
            raise ValueError("response too large")
        return json.loads(self.body)


class _Unreachable(Exception):
    pass


def _http(
    url: str, *, timeout: float, data: bytes | None = None, headers: Mapping[str, str] = {}
) -> _Response:  # noqa: B006 - never mutated
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise _Unreachable(f"not an http(s) URL: {url!r}")
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked above
        url, data=data, headers={"User-Agent": f"gatehouse-client/{__version__}", **headers}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - scheme checked
            return _Response(response.status, response.headers, response.read(MAX_RESPONSE_BYTES + 1))
    except urllib.error.HTTPError as error:
        with error:
            return _Response(error.code, error.headers, error.read(MAX_RESPONSE_BYTES + 1))
    except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as error:
        raise _Unreachable(str(error)) from error


def _timestamp_to_datetime(value: Any) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return datetime.fromtimestamp(value, tz=UTC)


def _string_tuple(value: Any) -> tuple[str, ...]:
    if isinstance(value, list | tuple):
        return tuple(item for item in value if isinstance(item, str))
    return ()


class Verifier:
    """Checks Gatehouse credentials for a resource server. Thread-safe; make one per process.

    - An access token (a JWT) is checked locally: its `kid` must be in Gatehouse's JWKS, its
      header `alg` must equal that JWK's `alg` (an asymmetric algorithm from `algorithms`),
      the signature, `iss`, `aud`, `exp`, `token_type == "access"` and the contract's
      required claims must hold. No call to Gatehouse per request, but a revoked session's
      token stays valid here until it expires.
    - An API key (`gk_…`), or any credential with `verify(..., introspect=True)`, is sent to
      Gatehouse's introspection endpoint with `introspection_key` (an API key with scope
      `tokens:introspect`). Answers are cached for `introspection_cache_seconds`, keyed by a
      SHA-256 digest of the credential.

    `issuer`, `jwks_url` and `introspection_url` default to the discovery document at
    `base_url + /.well-known/oauth-authorization-server`. `issuer` may be a list to accept
    tokens from an earlier issuer too. `clock` (seconds) drives the caches only; token expiry
    is compared with the system clock, allowing `leeway` seconds.
    """

    def __init__(
        self,
        base_url: str,
        audience: str = "gatehouse-api",
        introspection_key: str | None = None,
        issuer: str | Iterable[str] | None = None,
        *,
        algorithms: Iterable[str] = DEFAULT_ALGORITHMS,
        jwks_url: str | None = None,
        introspection_url: str | None = None,
        jwks_cache_seconds: float | None = None,
        jwks_refetch_interval: float = 60.0,
        jwks_max_stale_seconds: float = 3600.0,
        introspection_cache_seconds: float = 5.0,
        introspection_cache_size: int = 10_000,
        timeout: float = 3.0,
        leeway: float = 0.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.audience = audience
        self._introspection_key = introspection_key
        if isinstance(issuer, str) or issuer is None:
            self._issuer: str | list[str] | None = issuer
        else:
            self._issuer = list(issuer)
        self._algorithms = frozenset(algorithms)
        unsafe = self._algorithms - ASYMMETRIC_ALGORITHMS
        if unsafe or not self._algorithms:
            raise ValueError(f"algorithms must be asymmetric JWS algorithms, not {sorted(unsafe)}")
        self._jwks_url = jwks_url
        self._introspection_url = introspection_url
        self._jwks_cache_seconds = jwks_cache_seconds
        self._jwks_refetch_interval = jwks_refetch_interval
        self._jwks_max_stale_seconds = jwks_max_stale_seconds
        self._introspection_cache_seconds = introspection_cache_seconds
        self._introspection_cache_size = introspection_cache_size
        self._timeout = timeout
        self._leeway = leeway
        self._clock = clock

        self._discovery_lock = threading.Lock()
        self._discovery: dict[str, Any] | None = None
        self._discovery_expires_at = 0.0
        self._discovery_failed_at: float | None = None

        self._jwks_lock = threading.Lock()
        self._keys: dict[str, jwt.PyJWK] | None = None
        self._jwks_fetched_at = 0.0
        self._jwks_expires_at = 0.0
        self._jwks_attempted_at: float | None = None
        self._jwks_fetch_count = 0

        self._introspection_lock = threading.Lock()
        self._introspection_cache: OrderedDict[bytes, tuple[float, Principal | InvalidToken]] = OrderedDict()

    def __repr__(self) -> str:
        return f"Verifier({self.base_url!r}, audience={self.audience!r})"

    # Public API ---------------------------------------------------------------------------

    def verify(self, token: str, *, introspect: bool = False) -> Principal:
        """The Principal behind `token`, or InvalidToken / GatehouseUnavailable."""
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH or not token.isascii():
            raise InvalidToken(errors.TOKEN_NOT_VALID, errors.MSG_TOKEN_MALFORMED)
        if token.startswith(API_KEY_PREFIX):
            return self._introspect(token)
        if token.count(".") != 2:
            raise InvalidToken(errors.TOKEN_NOT_VALID, errors.MSG_TOKEN_MALFORMED)
        if introspect:
            if self._introspection_key is None:
                raise ValueError("verify(introspect=True) needs a Verifier with an introspection_key")
            return self._introspect(token)
        return self._verify_locally(token)

    def warm_up(self) -> None:
        """Fetches the discovery document and the JWKS now (at start-up, to fail fast)."""
        self._expected_issuer()
        with self._jwks_lock:
            self._refresh_jwks_locked(self._clock())
            if self._keys is None:
                raise GatehouseUnavailable(errors.JWKS_UNAVAILABLE, errors.MSG_JWKS_UNAVAILABLE)

    @property
    def jwks_fetch_count(self) -> int:
        """How many times the JWKS was downloaded (for tests and metrics)."""
        return self._jwks_fetch_count

    # Discovery ----------------------------------------------------------------------------

    def _discovery_document(self, *, required: bool) -> dict[str, Any] | None:
        now = self._clock()
        with self._discovery_lock:
            if self._discovery is not None and now < self._discovery_expires_at:
                return self._discovery
            recently_failed = (
                self._discovery_failed_at is not None
                and now - self._discovery_failed_at < RETRY_AFTER_FAILURE
            )
            if not recently_failed:
                try:
                    document, max_age = self._download_discovery()
                except GatehouseUnavailable:
                    self._discovery_failed_at = now
                    logger.warning("gatehouse discovery document unavailable at %s", self.base_url)
                else:
                    self._discovery = document
                    self._discovery_failed_at = None
                    self._discovery_expires_at = now + max_age
                    return document
            if self._discovery is not None:
                # Stale beats nothing while Gatehouse is unreachable; try again in a minute.
                self._discovery_expires_at = now + STALE_RETRY_SECONDS
                return self._discovery
            if required:
                raise GatehouseUnavailable(errors.DISCOVERY_UNAVAILABLE, errors.MSG_DISCOVERY_UNAVAILABLE)
            return None

    def _download_discovery(self) -> tuple[dict[str, Any], float]:
        try:
            response = _http(
                self.base_url + DISCOVERY_PATH, timeout=self._timeout, headers={"Accept": "application/json"}
            )
            document = response.json() if response.status == 200 else None
        except (_Unreachable, ValueError) as error:
            logger.warning("gatehouse discovery fetch failed: %s", error)
            document = None
        if not isinstance(document, dict) or not all(
            isinstance(document.get(name, ""), str)
            for name in ("issuer", "jwks_uri", "introspection_endpoint")
        ):
            raise GatehouseUnavailable(errors.DISCOVERY_UNAVAILABLE, errors.MSG_DISCOVERY_UNAVAILABLE)
        max_age = cache_control_max_age(response.headers.get("Cache-Control"))
        max_age = DEFAULT_DISCOVERY_MAX_AGE if max_age is None else max_age
        return document, min(max(max_age, MIN_HEADER_MAX_AGE), MAX_HEADER_MAX_AGE)

    def _expected_issuer(self) -> str | list[str]:
        if self._issuer is not None:
            return self._issuer
        document = self._discovery_document(required=True)
        issuer = document.get("issuer") if document else None
        if not issuer:
            raise GatehouseUnavailable(errors.DISCOVERY_UNAVAILABLE, errors.MSG_DISCOVERY_UNAVAILABLE)
        return issuer

    def _endpoint(self, explicit: str | None, field: str, default_path: str) -> str:
        if explicit is not None:
            return explicit
        # With an explicit issuer the contract's fixed paths are a safe fallback; without one,
        # the discovery document is needed anyway (for the issuer).
        document = self._discovery_document(required=self._issuer is None)
        if document and document.get(field):
            return document[field]
        return self.base_url + default_path

    # JWKS ---------------------------------------------------------------------------------

    def _signing_key(self, kid: str) -> jwt.PyJWK:
        now = self._clock()
        with self._jwks_lock:
            if self._keys is None or now >= self._jwks_expires_at:
                self._refresh_jwks_locked(now)
            if self._keys is None:
                raise GatehouseUnavailable(errors.JWKS_UNAVAILABLE, errors.MSG_JWKS_UNAVAILABLE)
            key = self._keys.get(kid)
            if key is None and (
                self._jwks_attempted_at is None
                or now - self._jwks_attempted_at >= self._jwks_refetch_interval
            ):
                # A key we have not seen: Gatehouse may have rotated. Ask again, at most once
                # per refetch interval, so forged kids cannot make us hammer Gatehouse.
                self._refresh_jwks_locked(now)
                key = (self._keys or {}).get(kid)
        if key is None:
            raise InvalidToken(errors.UNKNOWN_KID, errors.MSG_UNKNOWN_KID)
        return key

    def _refresh_jwks_locked(self, now: float) -> None:
        if (
            self._keys is None
            and self._jwks_attempted_at is not None
            and now - self._jwks_attempted_at < RETRY_AFTER_FAILURE
        ):
            return  # failed moments ago: fail fast rather than queue up behind timeouts
        self._jwks_attempted_at = now
        try:
            keys, max_age = self._download_jwks()
        except GatehouseUnavailable:
            if self._keys is not None and now - self._jwks_fetched_at <= self._jwks_max_stale_seconds:
                logger.warning(
                    "gatehouse JWKS refresh failed; using the copy from %.0f s ago",
                    now - self._jwks_fetched_at,
                )
                # Retry no sooner than the refetch interval: each attempt may hold the lock for
                # a whole timeout while Gatehouse is unreachable.
                self._jwks_expires_at = now + self._jwks_refetch_interval
                return
            self._keys = None
            raise
        self._keys = keys
        self._jwks_fetched_at = now
        self._jwks_expires_at = now + max_age

    def _download_jwks(self) -> tuple[dict[str, jwt.PyJWK], float]:
        url = self._endpoint(self._jwks_url, "jwks_uri", JWKS_PATH)
        self._jwks_fetch_count += 1
        try:
            response = _http(url, timeout=self._timeout, headers={"Accept": "application/json"})
            document = response.json() if response.status == 200 else None
        except (_Unreachable, ValueError) as error:
            logger.warning("gatehouse JWKS fetch failed: %s", error)
            document = None
        if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
            raise GatehouseUnavailable(errors.JWKS_UNAVAILABLE, errors.MSG_JWKS_UNAVAILABLE)
        keys: dict[str, jwt.PyJWK] = {}
        for jwk in document["keys"]:
            key = self._usable_key(jwk)
            if key is not None:
                keys[jwk["kid"]] = key
        if self._jwks_cache_seconds is not None:
            max_age = self._jwks_cache_seconds
        else:
            header_age = cache_control_max_age(response.headers.get("Cache-Control"))
            max_age = DEFAULT_JWKS_MAX_AGE if header_age is None else header_age
            max_age = min(max(max_age, MIN_HEADER_MAX_AGE), MAX_HEADER_MAX_AGE)
        return keys, max_age

    def _usable_key(self, jwk: Any) -> jwt.PyJWK | None:
        """A JWK we may verify with: a public signing key with a kid and an allowed alg."""
        if not isinstance(jwk, dict):
            return None
        kid, alg = jwk.get("kid"), jwk.get("alg")
        if not isinstance(kid, str) or not kid or alg not in self._algorithms:
            return None
        if jwk.get("use", "sig") != "sig" or any(private in jwk for private in ("d", "p", "q", "k")):
            return None
        try:
            return jwt.PyJWK(jwk, algorithm=alg)
        except jwt.PyJWTError as error:
            logger.warning("gatehouse JWK %s ignored: %s", kid, error)
            return None

    # Local verification -------------------------------------------------------------------

    def _verify_locally(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as error:
            raise InvalidToken(errors.TOKEN_NOT_VALID, errors.MSG_TOKEN_NOT_VALID) from error
        kid, alg = header.get("kid"), header.get("alg")
        if not isinstance(kid, str) or not kid or not isinstance(alg, str):
            raise InvalidToken(errors.TOKEN_NOT_VALID, errors.MSG_TOKEN_NOT_VALID)
        if alg not in self._algorithms:
            # "none", HS256 and friends are refused before any key lookup or JWKS refetch.
            raise InvalidToken(errors.TOKEN_NOT_VALID, errors.MSG_ALGORITHM_MISMATCH)
        key = self._signing_key(kid)
        if key.algorithm_name != alg:
            raise InvalidToken(errors.TOKEN_NOT_VALID, errors.MSG_ALGORITHM_MISMATCH)
        issuer = self._expected_issuer()
        try:
            claims = jwt.decode(
                token,
                key=key.key,
                algorithms=[key.algorithm_name],
                audience=self.audience,
                issuer=issuer,
                leeway=self._leeway,
                options={"require": list(REQUIRED_CLAIMS)},
            )
        except jwt.ExpiredSignatureError as error:
            raise InvalidToken(errors.TOKEN_EXPIRED, errors.MSG_TOKEN_EXPIRED) from error
        except jwt.InvalidAudienceError as error:
            raise InvalidToken(errors.TOKEN_NOT_VALID, errors.MSG_WRONG_AUDIENCE) from error
        except jwt.PyJWTError as error:
            raise InvalidToken(errors.TOKEN_NOT_VALID, errors.MSG_TOKEN_NOT_VALID) from error
        if claims.get("token_type") != "access":
            raise InvalidToken(errors.TOKEN_NOT_VALID, errors.MSG_NOT_ACCESS_TOKEN)
        sub, role = claims.get("sub"), claims.get("role")
        if not isinstance(sub, str) or not isinstance(role, str):
            raise InvalidToken(errors.TOKEN_NOT_VALID, errors.MSG_TOKEN_NOT_VALID)
        return Principal(
            sub=sub,
            role=role,
            scopes=ROLE_SCOPES.get(role, frozenset()),
            token_type=ACCESS_TOKEN,
            verified_by=VIA_JWKS,
            username=None,
            session_id=str(claims["sid"]),
            expires_at=_timestamp_to_datetime(claims["exp"]),
            amr=_string_tuple(claims.get("amr")),
            claims=MappingProxyType(claims),
        )

    # Introspection ------------------------------------------------------------------------

    def _introspect(self, token: str) -> Principal:
        if self._introspection_key is None:
            raise InvalidToken(errors.API_KEY_NOT_ACCEPTED, errors.MSG_API_KEY_NOT_ACCEPTED)
        digest = hashlib.sha256(token.encode()).digest()
        now = self._clock()
        with self._introspection_lock:
            cached = self._introspection_cache.get(digest)
            if cached is not None and now >= cached[0]:
                del self._introspection_cache[digest]
                cached = None
        if cached is not None:
            return self._result(cached[1])

        result = self._result_from_answer(self._post_introspection(token))
        ttl = self._introspection_cache_seconds
        if isinstance(result, Principal) and result.expires_at is not None:
            ttl = min(ttl, result.expires_at.timestamp() - time.time())
        if ttl > 0:
            with self._introspection_lock:
                self._introspection_cache[digest] = (now + ttl, result)
                self._introspection_cache.move_to_end(digest)
                while len(self._introspection_cache) > self._introspection_cache_size:
                    self._introspection_cache.popitem(last=False)
        return self._result(result)

    @staticmethod
    def _result(result: Principal | InvalidToken) -> Principal:
        if isinstance(result, InvalidToken):
            raise InvalidToken(result.code, result.detail)
        return result

    def _post_introspection(self, token: str) -> dict[str, Any]:
        url = self._endpoint(self._introspection_url, "introspection_endpoint", INTROSPECTION_PATH)
        headers = {
            "X-API-Key": self._introspection_key or "",
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        try:
            response = _http(
                url, timeout=self._timeout, data=json.dumps({"token": token}).encode(), headers=headers
            )
        except _Unreachable as error:
            logger.warning("gatehouse introspection failed: %s", error)
            raise GatehouseUnavailable(
                errors.INTROSPECTION_UNAVAILABLE, errors.MSG_INTROSPECTION_UNAVAILABLE
            ) from error
        if response.status in (401, 403):
            logger.error("gatehouse refused the introspection key (HTTP %s)", response.status)
            raise GatehouseUnavailable(errors.INTROSPECTION_REFUSED, errors.MSG_INTROSPECTION_REFUSED)
        try:
            answer = response.json() if response.status == 200 else None
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            logger.warning("gatehouse introspection answered HTTP %s without a JSON object", response.status)
            raise GatehouseUnavailable(errors.INTROSPECTION_UNAVAILABLE, errors.MSG_INTROSPECTION_UNAVAILABLE)
        return answer

    def _result_from_answer(self, answer: dict[str, Any]) -> Principal | InvalidToken:
        if answer.get("active") is not True:
            return InvalidToken(errors.TOKEN_INACTIVE, errors.MSG_TOKEN_INACTIVE)
        token_type = answer.get("token_type")
        if token_type not in (ACCESS_TOKEN, API_KEY):
            return InvalidToken(errors.TOKEN_NOT_VALID, errors.MSG_NOT_ACCESS_TOKEN)
        sub, role, scope = answer.get("sub"), answer.get("role"), answer.get("scope", "")
        if (
            isinstance(sub, bool)
            or not isinstance(sub, str | int)
            or not isinstance(role, str)
            or not isinstance(scope, str)
        ):
            raise GatehouseUnavailable(errors.INTROSPECTION_UNAVAILABLE, errors.MSG_INTROSPECTION_UNAVAILABLE)
        expires_at = _timestamp_to_datetime(answer.get("exp"))
        if expires_at is not None and expires_at.timestamp() + self._leeway <= time.time():
            return InvalidToken(errors.TOKEN_EXPIRED, errors.MSG_TOKEN_EXPIRED)
        if token_type == ACCESS_TOKEN:
            audience = answer.get("aud")
            audiences = audience if isinstance(audience, list) else [audience]
            if self.audience not in audiences:
                return InvalidToken(errors.TOKEN_NOT_VALID, errors.MSG_WRONG_AUDIENCE)
        username, sid, prefix = answer.get("username"), answer.get("sid"), answer.get("key_prefix")
        return Principal(
            sub=str(sub),
            role=role,
            scopes=frozenset(scope.split()),
            token_type=token_type,
            verified_by=VIA_INTROSPECTION,
            username=username if isinstance(username, str) else None,
            session_id=None if sid is None else str(sid),
            expires_at=expires_at,
            key_prefix=prefix if isinstance(prefix, str) else None,
            amr=_string_tuple(answer.get("amr")),
            claims=MappingProxyType(dict(answer)),
        )
