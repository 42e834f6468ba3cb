"""Who may call what: roles, and scopes (an API key's, or all that a JWT user's role allows)."""

from django.db import models
from rest_framework.permissions import BasePermission
from rest_framework_simplejwt.tokens import Token

from accounts.models import Role


class Scope(models.TextChoices):
    PROFILE_READ = "profile:read", "Read own profile"
    PROFILE_WRITE = "profile:write", "Change own profile and sessions"
    KEYS_READ = "keys:read", "List own API keys"
    KEYS_WRITE = "keys:write", "Create and revoke own API keys"
    ADMIN_READ = "admin:read", "Read users, stats and the audit log"
    ADMIN_WRITE = "admin:write", "Change users, sessions and keys"
    TOKENS_INTROSPECT = "tokens:introspect", "Ask whether a token or key is active (resource servers)"


_SELF_SERVICE = frozenset({Scope.PROFILE_READ, Scope.PROFILE_WRITE, Scope.KEYS_READ, Scope.KEYS_WRITE})
ROLE_SCOPES: dict[str, frozenset[str]] = {
    Role.ADMIN: frozenset(Scope.values),
    Role.DEVELOPER: _SELF_SERVICE,
    Role.USER: _SELF_SERVICE,
    # Resource servers introspect with a service account's key (admins may too).
    Role.SERVICE_ACCOUNT: _SELF_SERVICE | {Scope.TOKENS_INTROSPECT},
    Role.GUEST: frozenset({Scope.PROFILE_READ, Scope.PROFILE_WRITE, Scope.KEYS_READ}),
}


def effective_scopes(request) -> frozenset[str]:
    """A JWT user has every scope of their role; a key has its own scopes within its owner's."""
    allowed = ROLE_SCOPES.get(request.user.role, frozenset())
    key_scopes = getattr(request.auth, "scopes", None)
    if key_scopes is None:
        return allowed
    return allowed & frozenset(key_scopes)


class HasScope(BasePermission):
    """Requires the scope the view names for the request's method in `required_scopes`."""

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        required = getattr(view, "required_scopes", {}).get(request.method)
        if required is None:
            return request.method == "OPTIONS"
        return required in effective_scopes(request)


class IsAdminRole(BasePermission):
    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated and request.user.role == Role.ADMIN)


class SessionOnly(BasePermission):
    """For what only a person who logged in may do (an API key cannot change the password)."""

    message = "This needs a login session (an access token), not an API key."

    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, Token)
