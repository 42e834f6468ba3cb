"""Who may call what: scopes (an API key's, or all that a JWT user's role allows)."""

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework_simplejwt.tokens import Token

from accounts.errors import MfaRequired
from accounts.roles import mfa_required_for, scopes_for
from accounts.tokens import amr_of


def effective_scopes(request: Request) -> frozenset[str]:
    """A JWT user has every scope of their role; a key has its own scopes within its owner's."""
    allowed = scopes_for(request.user.role)
    key_scopes = getattr(request.auth, "scopes", None)
    if key_scopes is None:
        return allowed
    return allowed & frozenset(key_scopes)


class HasScope(BasePermission):
    """Requires the scope the view names for the request's method in `required_scopes`."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        required = getattr(view, "required_scopes", {}).get(request.method)
        if required is None:
            return request.method == "OPTIONS"
        return required in effective_scopes(request)


class SessionOnly(BasePermission):
    """For what only a person who logged in may do (an API key cannot change the password)."""

    message = "This needs a login session (an access token), not an API key."

    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.auth, Token)


class MfaSatisfied(BasePermission):
    """For roles in MFA_REQUIRED_FOR_ROLES, a session must have logged in with a code
    (`otp` in the access token's `amr`). API keys are not sessions: they pass here, and
    apikeys refuses to create one for such a role from a session without `otp`."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if isinstance(request.auth, Token) and mfa_required_for(request.user.role):
            if "otp" not in amr_of(request.auth.payload):
                raise MfaRequired()
        return True
