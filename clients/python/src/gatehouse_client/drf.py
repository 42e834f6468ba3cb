"""Django REST framework authentication with Gatehouse credentials.

    # settings.py
    GATEHOUSE_CLIENT = {"BASE_URL": "https://id.example.com", "AUDIENCE": "gatehouse-api",
                        "INTROSPECTION_KEY": os.environ.get("GATEHOUSE_INTROSPECTION_KEY"),
                        "INTROSPECT": False}
    REST_FRAMEWORK = {"DEFAULT_AUTHENTICATION_CLASSES": ["gatehouse_client.drf.GatehouseAuthentication"]}

`request.user` and `request.auth` are then both the `Principal` (it has `is_authenticated`
True and `pk` = `sub`), so DRF's `IsAuthenticated` works; `HasRole` and `HasScope` below check
the role or scopes. Or subclass and set `verifier = Verifier(...)` (and `introspect`).
Returns None when the request carries no Bearer / X-API-Key credential (the next class may
try); a bad credential is `AuthenticationFailed` with the Verifier's code (401); Gatehouse
unreachable is a 503 `GatehouseUnavailableError`.
"""

from __future__ import annotations

import threading
from typing import Any, ClassVar

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission

from gatehouse_client import errors
from gatehouse_client._http_auth import credential_from_headers, www_authenticate
from gatehouse_client.errors import GatehouseUnavailable, InvalidToken
from gatehouse_client.principal import Principal
from gatehouse_client.verifier import Verifier

__all__ = [
    "GatehouseAuthentication",
    "GatehouseUnavailableError",
    "HasRole",
    "HasScope",
    "verifier_from_settings",
]

_settings_verifier: Verifier | None = None
_settings_lock = threading.Lock()


class GatehouseUnavailableError(exceptions.APIException):
    status_code = 503
    default_detail = errors.MSG_JWKS_UNAVAILABLE
    default_code = errors.JWKS_UNAVAILABLE


def verifier_from_settings() -> Verifier:
    """The process-wide Verifier built from `settings.GATEHOUSE_CLIENT` (once)."""
    global _settings_verifier
    with _settings_lock:
        if _settings_verifier is None:
            from django.conf import settings

            config: dict[str, Any] = getattr(settings, "GATEHOUSE_CLIENT", {})
            if not config.get("BASE_URL"):
                raise RuntimeError(
                    "settings.GATEHOUSE_CLIENT['BASE_URL'] is required for GatehouseAuthentication"
                )
            _settings_verifier = Verifier(
                config["BASE_URL"],
                audience=config.get("AUDIENCE", "gatehouse-api"),
                introspection_key=config.get("INTROSPECTION_KEY"),
                issuer=config.get("ISSUER"),
            )
        return _settings_verifier


class GatehouseAuthentication(BaseAuthentication):
    """`Authorization: Bearer <access token or gk_ key>` or `X-API-Key: <gk_ key>`."""

    verifier: ClassVar[Verifier | None] = None
    introspect: ClassVar[bool | None] = None

    def get_verifier(self) -> Verifier:
        return self.verifier if self.verifier is not None else verifier_from_settings()

    def get_introspect(self) -> bool:
        if self.introspect is not None:
            return self.introspect
        from django.conf import settings

        return bool(getattr(settings, "GATEHOUSE_CLIENT", {}).get("INTROSPECT", False))

    def authenticate(self, request: Any) -> tuple[Principal, Principal] | None:
        try:
            credential = credential_from_headers(
                request.META.get("HTTP_AUTHORIZATION"), request.META.get("HTTP_X_API_KEY")
            )
            if credential is None:
                return None
            principal = self.get_verifier().verify(credential, introspect=self.get_introspect())
        except InvalidToken as error:
            raise exceptions.AuthenticationFailed(error.detail, code=error.code) from error
        except GatehouseUnavailable as error:
            raise GatehouseUnavailableError(error.detail, code=error.code) from error
        return principal, principal

    def authenticate_header(self, request: Any) -> str:
        # A value here makes DRF answer 401 (not 403) to unauthenticated requests.
        return www_authenticate(None)


class HasRole(BasePermission):
    """`permission_classes = [HasRole.of("developer", "admin")]`: the Principal's role is one of them."""

    roles: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def of(cls, *roles: str) -> type[HasRole]:
        return type("HasRole", (cls,), {"roles": roles})

    def has_permission(self, request: Any, view: Any) -> bool:
        return isinstance(request.auth, Principal) and request.auth.has_role(*self.roles)


class HasScope(BasePermission):
    """`permission_classes = [HasScope.of("profile:read")]`: the Principal has every one of them."""

    scopes: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def of(cls, *scopes: str) -> type[HasScope]:
        return type("HasScope", (cls,), {"scopes": scopes})

    def has_permission(self, request: Any, view: Any) -> bool:
        return (
            isinstance(request.auth, Principal) and bool(self.scopes) and request.auth.has_scope(*self.scopes)
        )
