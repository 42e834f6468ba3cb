"""Plain WSGI and ASGI middleware: no credential or a bad one never reaches the app.

Protected requests (path under one of `protected_prefixes`, default every path, and not one
of `open_paths`, default `/health`) must present `Authorization: Bearer <token or key>` or
`X-API-Key: <key>`. A valid credential's Principal is put in
`environ["gatehouse.principal"]` (WSGI) or `scope["state"]["gatehouse_principal"]` (ASGI;
`request.state.gatehouse_principal` in Starlette/FastAPI) and `scope["gatehouse.principal"]`.
Otherwise the middleware answers 401 `{"detail", "code"}` with `WWW-Authenticate: Bearer`,
or 503 when Gatehouse cannot be asked. Requests outside the protected paths pass untouched.
An `open_paths` or `protected_prefixes` entry matches the path itself and everything below it
(`/health` matches `/health` and `/health/live`, not `/healthz`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from gatehouse_client import errors
from gatehouse_client._http_auth import credential_from_headers, error_body, error_status, www_authenticate
from gatehouse_client.errors import GatehouseError
from gatehouse_client.principal import Principal
from gatehouse_client.verifier import Verifier

__all__ = ["ASGI_STATE_KEY", "PRINCIPAL_KEY", "GatehouseASGIMiddleware", "GatehouseWSGIMiddleware"]

PRINCIPAL_KEY = "gatehouse.principal"
ASGI_STATE_KEY = "gatehouse_principal"

_REASONS = {401: "401 Unauthorized", 503: "503 Service Unavailable"}


def _under(path: str, prefix: str) -> bool:
    prefix = prefix.rstrip("/")
    return not prefix or path == prefix or path.startswith(prefix + "/")


class _Policy:
    def __init__(
        self,
        verifier: Verifier,
        protected_prefixes: Iterable[str],
        open_paths: Iterable[str],
        introspect: bool,
    ) -> None:
        self.verifier = verifier
        self.protected_prefixes = tuple(protected_prefixes)
        self.open_paths = tuple(open_paths)
        self.introspect = introspect

    def protects(self, path: str) -> bool:
        if any(_under(path, open_path) for open_path in self.open_paths):
            return False
        return any(_under(path, prefix) for prefix in self.protected_prefixes)

    def check(
        self, authorization: str | None, api_key: str | None
    ) -> Principal | tuple[int, list[tuple[str, str]], bytes]:
        """The Principal, or the (status, headers, body) of the refusal."""
        try:
            credential = credential_from_headers(authorization, api_key)
            if credential is not None:
                return self.verifier.verify(credential, introspect=self.introspect)
        except GatehouseError as error:
            status = error_status(error)
            extra = ("WWW-Authenticate", www_authenticate(error)) if status == 401 else ("Retry-After", "5")
            return status, [("Content-Type", "application/json"), extra], error_body(error.detail, error.code)
        return (
            401,
            [("Content-Type", "application/json"), ("WWW-Authenticate", www_authenticate(None))],
            error_body(errors.MSG_NOT_AUTHENTICATED, errors.NOT_AUTHENTICATED),
        )


class GatehouseWSGIMiddleware:
    """WSGI middleware (Flask, Django, any WSGI app): see the module docstring."""

    def __init__(
        self,
        app: Callable[..., Iterable[bytes]],
        verifier: Verifier,
        *,
        protected_prefixes: Iterable[str] = ("/",),
        open_paths: Iterable[str] = ("/health",),
        introspect: bool = False,
    ) -> None:
        self.app = app
        self._policy = _Policy(verifier, protected_prefixes, open_paths, introspect)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not self._policy.protects(environ.get("PATH_INFO", "") or "/"):
            return self.app(environ, start_response)
        result = self._policy.check(environ.get("HTTP_AUTHORIZATION"), environ.get("HTTP_X_API_KEY"))
        if isinstance(result, Principal):
            environ[PRINCIPAL_KEY] = result
            return self.app(environ, start_response)
        status, headers, body = result
        start_response(_REASONS[status], [*headers, ("Content-Length", str(len(body)))])
        return [body]


Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class GatehouseASGIMiddleware:
    """ASGI middleware (Starlette, FastAPI, any ASGI app): see the module docstring.

    Verification runs in a worker thread (`asyncio.to_thread`), so a JWKS fetch or an
    introspection call never blocks the event loop. A refused WebSocket is closed with 1008.
    """

    def __init__(
        self,
        app: Callable[[Scope, Receive, Send], Awaitable[None]],
        verifier: Verifier,
        *,
        protected_prefixes: Iterable[str] = ("/",),
        open_paths: Iterable[str] = ("/health",),
        introspect: bool = False,
    ) -> None:
        self.app = app
        self._policy = _Policy(verifier, protected_prefixes, open_paths, introspect)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or not self._policy.protects(
            scope.get("path", "") or "/"
        ):
            await self.app(scope, receive, send)
            return
        headers = {}
        for name, value in scope.get("headers", ()):
            headers.setdefault(name.lower(), value.decode("latin-1"))
        result = await asyncio.to_thread(
            self._policy.check, headers.get(b"authorization"), headers.get(b"x-api-key")
        )
        if isinstance(result, Principal):
            # A copy: the server may share the lifespan state dict between requests.
            scope = dict(scope)
            scope["state"] = {**scope.get("state", {}), ASGI_STATE_KEY: result}
            scope[PRINCIPAL_KEY] = result
            await self.app(scope, receive, send)
            return
        status, response_headers, body = result
        if scope["type"] == "websocket":
            await receive()  # websocket.connect
            await send({"type": "websocket.close", "code": 1008, "reason": errors.MSG_NOT_AUTHENTICATED})
            return
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    *((name.lower().encode(), value.encode("latin-1")) for name, value in response_headers),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
