"""A stand-in for Gatehouse: real keys, real signatures, a real local HTTP server.

It serves the contract's `/.well-known/oauth-authorization-server`, `/.well-known/jwks.json`
and `/api/v1/auth/introspect`, counts requests per path, and can be told to fail.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import urllib.parse
import uuid
from collections import Counter
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

AUDIENCE = "gatehouse-api"
INTROSPECTION_KEY = "gk_0123456789ab_introspection-secret-for-tests-only-0000000000"
WEAK_KEY = "gk_ba9876543210_a-key-without-tokens-introspect-000000000000000"
JWKS_PATH = "/.well-known/jwks.json"
DISCOVERY_PATH = "/.well-known/oauth-authorization-server"
INTROSPECTION_PATH = "/api/v1/auth/introspect"


@cache
def private_key(alg: str, variant: int = 0):
    """One key per (algorithm, variant) for the whole test session (RSA generation is slow)."""
    if alg == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    if alg in ("RS256", "PS256"):
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    raise ValueError(alg)


def public_jwk(alg: str, key, kid: str) -> dict[str, Any]:
    exporter = {"EdDSA": OKPAlgorithm, "ES256": ECAlgorithm, "RS256": RSAAlgorithm, "PS256": RSAAlgorithm}[
        alg
    ]
    jwk = exporter.to_jwk(key.public_key(), as_dict=True)
    return {**jwk, "kid": kid, "alg": alg, "use": "sig"}


def public_pem(key) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hand_made_jwt(header: dict[str, Any], claims: dict[str, Any], secret: bytes | None) -> str:
    """A token assembled by hand, as an attacker would: HS256 over `secret`, or no signature."""
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    if secret is None:
        return signing_input + "."
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


class FakeGatehouse:
    def __init__(self) -> None:
        self.keys: dict[str, tuple[str, Any]] = {}  # kid -> (alg, private key)
        self.published: list[str] = []
        self.extra_jwks: list[dict[str, Any]] = []
        self.jwks_cache_control = "public, max-age=300"
        self.issuer = ""
        self.introspection_path = INTROSPECTION_PATH
        self.introspection_answers: dict[str, dict[str, Any]] = {}
        self.introspected: list[str] = []
        self.requests: Counter[str] = Counter()
        self.fail: dict[str, int] = {}  # path -> status to answer instead
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.gatehouse = self  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self.issuer = self.url
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> FakeGatehouse:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    # Keys and tokens ----------------------------------------------------------------------

    def add_key(self, alg: str, *, kid: str | None = None, publish: bool = True, variant: int = 0) -> str:
        kid = kid or f"{alg.lower()}-{uuid.uuid4().hex[:8]}"
        self.keys[kid] = (alg, private_key(alg, variant))
        if publish:
            self.published.append(kid)
        return kid

    def jwks(self) -> dict[str, Any]:
        keys = [public_jwk(self.keys[kid][0], self.keys[kid][1], kid) for kid in self.published]
        return {"keys": keys + self.extra_jwks}

    def claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims = {
            "sub": "42",
            "role": "developer",
            "sid": "7",
            "jti": uuid.uuid4().hex,
            "iat": now,
            "exp": now + 900,
            "iss": self.issuer,
            "aud": AUDIENCE,
            "token_type": "access",
        }
        claims.update(overrides)
        return {name: value for name, value in claims.items() if value is not None}

    def issue(
        self, kid: str, *, alg: str | None = None, headers: dict[str, Any] | None = None, **overrides: Any
    ) -> str:
        key_alg, key = self.keys[kid]
        return jwt.encode(
            self.claims(**overrides), key, algorithm=alg or key_alg, headers={"kid": kid, **(headers or {})}
        )

    def answer(self, token: str, **fields: Any) -> dict[str, Any]:
        """Makes introspection of `token` answer active with `fields`."""
        now = int(time.time())
        answer = {
            "active": True,
            "token_type": "api_key",
            "sub": "42",
            "username": "alice",
            "role": "developer",
            "scope": "profile:read keys:read",
            "exp": now + 3600,
            "iat": now,
            "iss": self.issuer,
            "aud": AUDIENCE,
            "key_prefix": "3f9a0c1b7d2e",
        }
        answer.update(fields)
        answer = {name: value for name, value in answer.items() if value is not None}
        self.introspection_answers[token] = answer
        return answer


class _Handler(BaseHTTPRequestHandler):
    server_version = "FakeGatehouse/1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass

    @property
    def gatehouse(self) -> FakeGatehouse:
        return self.server.gatehouse  # type: ignore[attr-defined]

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        gatehouse = self.gatehouse
        gatehouse.requests[self.path] += 1
        if self.path in gatehouse.fail:
            return self._send(gatehouse.fail[self.path], {"detail": "down", "code": "unavailable"})
        if self.path == JWKS_PATH:
            return self._send(200, gatehouse.jwks(), {"Cache-Control": gatehouse.jwks_cache_control})
        if self.path == DISCOVERY_PATH:
            document = {
                "issuer": gatehouse.issuer,
                "jwks_uri": gatehouse.url + JWKS_PATH,
                "introspection_endpoint": gatehouse.url + gatehouse.introspection_path,
                "introspection_endpoint_auth_methods_supported": ["api_key"],
            }
            return self._send(200, document)
        return self._send(404, {"detail": "Not found.", "code": "not_found"})

    def do_POST(self) -> None:
        gatehouse = self.gatehouse
        gatehouse.requests[self.path] += 1
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path in gatehouse.fail:
            return self._send(gatehouse.fail[self.path], {"detail": "down", "code": "unavailable"})
        if self.path != gatehouse.introspection_path:
            return self._send(404, {"detail": "Not found.", "code": "not_found"})
        caller = self.headers.get("X-API-Key")
        if caller == WEAK_KEY:
            return self._send(403, {"detail": "No.", "code": "permission_denied"})
        if caller != INTROSPECTION_KEY:
            return self._send(401, {"detail": "No credentials.", "code": "not_authenticated"})
        if self.headers.get("Content-Type", "").startswith("application/json"):
            token = json.loads(body).get("token", "")
        else:
            token = urllib.parse.parse_qs(body.decode()).get("token", [""])[0]
        gatehouse.introspected.append(token)
        return self._send(200, gatehouse.introspection_answers.get(token, {"active": False}))
