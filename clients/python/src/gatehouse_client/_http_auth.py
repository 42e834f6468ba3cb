"""Finding the credential in a request's headers, shared by the adapters."""

from __future__ import annotations

import json

from gatehouse_client import errors
from gatehouse_client.errors import GatehouseError, GatehouseUnavailable, InvalidToken

MSG_BAD_AUTHORIZATION = "The Authorization header must be 'Bearer <token>'."


def credential_from_headers(authorization: str | None, api_key: str | None) -> str | None:
    """The token or key the request presents (X-API-Key wins), None when it presents none.

    An Authorization header with another scheme (Basic…) is not ours: None.
    """
    if api_key:
        return api_key.strip()
    if not authorization:
        return None
    scheme, _, credential = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    credential = credential.strip()
    if not credential or " " in credential:
        raise InvalidToken(errors.TOKEN_NOT_VALID, MSG_BAD_AUTHORIZATION)
    return credential


def error_status(error: GatehouseError) -> int:
    return 503 if isinstance(error, GatehouseUnavailable) else 401


def www_authenticate(error: GatehouseError | None) -> str:
    """RFC 6750: a bare challenge when nothing was sent, invalid_token when it was bad."""
    if error is None:
        return "Bearer"
    return f'Bearer error="invalid_token", error_description="{error.code}"'


def error_body(detail: str, code: str) -> bytes:
    return json.dumps({"detail": detail, "code": code}).encode()
