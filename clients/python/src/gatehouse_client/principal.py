"""Who a verified credential belongs to, and what it may do."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

# What each Gatehouse role allows (the server's accounts.permissions.ROLE_SCOPES). A locally
# verified access token carries only its role, so its scopes are its role's scopes, exactly
# as Gatehouse itself treats access tokens. An API key's scopes come from introspection.
_SELF_SERVICE = frozenset({"profile:read", "profile:write", "keys:read", "keys:write"})
ROLE_SCOPES: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "admin": _SELF_SERVICE | {"admin:read", "admin:write", "tokens:introspect"},
        "developer": _SELF_SERVICE,
        "user": _SELF_SERVICE,
        "service_account": _SELF_SERVICE | {"tokens:introspect"},
        "guest": frozenset({"profile:read", "profile:write", "keys:read"}),
    }
)

ACCESS_TOKEN = "access_token"  # noqa: S105 - a token type name
API_KEY = "api_key"

VIA_JWKS = "jwks"
VIA_INTROSPECTION = "introspection"


@dataclass(frozen=True, slots=True)
class Principal:
    """The owner of a verified access token or API key.

    `token_type` is `"access_token"` or `"api_key"` (RFC 7662 vocabulary) whichever way it
    was checked; `verified_by` says how (`"jwks"`: locally, `"introspection"`: by Gatehouse).
    `username` is None for a locally verified access token (access tokens carry no username
    claim); introspection answers it. `claims` is the token payload or the introspection
    answer, read-only.
    """

    sub: str
    role: str
    scopes: frozenset[str]
    token_type: str
    verified_by: str
    username: str | None = None
    session_id: str | None = None
    expires_at: datetime | None = None
    key_prefix: str | None = None
    amr: tuple[str, ...] = ()
    claims: Mapping[str, Any] = field(
        default_factory=lambda: MappingProxyType({}), compare=False, hash=False, repr=False
    )

    # A Principal stands in for request.user in DRF and Starlette: it is always authenticated.
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    @property
    def pk(self) -> str:
        return self.sub

    @property
    def id(self) -> str:
        return self.sub

    @property
    def is_api_key(self) -> bool:
        return self.token_type == API_KEY

    def has_role(self, *roles: str) -> bool:
        """True if the role is any of `roles`."""
        return self.role in roles

    def has_scope(self, *scopes: str) -> bool:
        """True if every one of `scopes` is granted."""
        return all(scope in self.scopes for scope in scopes)
