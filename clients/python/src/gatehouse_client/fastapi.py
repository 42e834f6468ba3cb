"""FastAPI dependencies: `authenticated`, `require_role`, `require_scope`, `require`.

    app = FastAPI()
    install_exception_handler(app)   # 401/403/503 bodies become {"detail", "code"}
    v = Verifier("https://id.example.com", introspection_key="gk_…")

    @app.get("/predict")
    def predict(p: Principal = Depends(require_role(v, "developer"))): ...

Failures raise `GatehouseHTTPException` (a `fastapi.HTTPException`): 401 with
`WWW-Authenticate: Bearer` (no or bad credential), 403 `permission_denied`, 503 when Gatehouse
cannot be asked. Without `install_exception_handler` FastAPI's default handler still answers
the status and headers, but with a body of only `{"detail": "…"}`.
The dependencies are plain `def`s, so FastAPI runs them in its thread pool: a JWKS fetch or an
introspection call never blocks the event loop.
"""

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from gatehouse_client import errors
from gatehouse_client._http_auth import credential_from_headers, error_status, www_authenticate
from gatehouse_client.errors import GatehouseError
from gatehouse_client.principal import Principal
from gatehouse_client.verifier import Verifier

__all__ = [
    "GatehouseHTTPException",
    "authenticated",
    "install_exception_handler",
    "require",
    "require_role",
    "require_scope",
]

# auto_error=False: we answer missing credentials ourselves, in the contract's shape. These
# also make the OpenAPI document show both ways to authenticate.
_bearer = HTTPBearer(auto_error=False, description="A Gatehouse access token or API key")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="A Gatehouse API key")


class GatehouseHTTPException(HTTPException):
    """An HTTPException that also carries the stable error `code`."""

    def __init__(
        self, status_code: int, detail: str, code: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(status_code=status_code, detail=detail, headers=headers)
        self.code = code


def _from_error(error: GatehouseError) -> GatehouseHTTPException:
    status = error_status(error)
    headers = {"WWW-Authenticate": www_authenticate(error)} if status == 401 else {"Retry-After": "5"}
    return GatehouseHTTPException(status, error.detail, error.code, headers)


def install_exception_handler(app: FastAPI) -> None:
    """Makes the app answer Gatehouse failures as `{"detail", "code"}`, like Gatehouse does."""

    async def handler(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, GatehouseHTTPException)  # noqa: S101 - registered for this class only
        return JSONResponse(
            {"detail": exc.detail, "code": exc.code}, status_code=exc.status_code, headers=exc.headers
        )

    app.add_exception_handler(GatehouseHTTPException, handler)


def authenticated(verifier: Verifier, *, introspect: bool = False) -> Callable[..., Principal]:
    """A dependency answering the request's Principal, or 401 / 503."""

    def dependency(
        bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
        api_key: Annotated[str | None, Depends(_api_key)],
    ) -> Principal:
        authorization = f"{bearer.scheme} {bearer.credentials}" if bearer else None
        try:
            credential = credential_from_headers(authorization, api_key)
            if credential is None:
                raise GatehouseHTTPException(
                    401,
                    errors.MSG_NOT_AUTHENTICATED,
                    errors.NOT_AUTHENTICATED,
                    {"WWW-Authenticate": www_authenticate(None)},
                )
            return verifier.verify(credential, introspect=introspect)
        except GatehouseError as error:
            raise _from_error(error) from error

    return dependency


def require(
    verifier: Verifier, check: Callable[[Principal], bool], *, introspect: bool = False
) -> Callable[..., Principal]:
    """A dependency answering the Principal if `check(principal)` holds; 403 if not."""
    authenticate = authenticated(verifier, introspect=introspect)

    def dependency(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        if not check(principal):
            raise GatehouseHTTPException(403, errors.MSG_PERMISSION_DENIED, errors.PERMISSION_DENIED)
        return principal

    return dependency


def require_role(verifier: Verifier, *roles: str, introspect: bool = False) -> Callable[..., Principal]:
    """The Principal if its role is any of `roles`; 403 otherwise."""
    if not roles:
        raise ValueError("require_role needs at least one role")
    return require(verifier, lambda principal: principal.has_role(*roles), introspect=introspect)


def require_scope(verifier: Verifier, *scopes: str, introspect: bool = False) -> Callable[..., Principal]:
    """The Principal if it has every one of `scopes`; 403 otherwise."""
    if not scopes:
        raise ValueError("require_scope needs at least one scope")
    return require(verifier, lambda principal: principal.has_scope(*scopes), introspect=introspect)
