"""The one role policy: what each role may do (scopes, staff access, request rate) and how
roles rank. Models, permissions, throttling, the admin and API keys all ask here."""

import re

from django.conf import settings
from django.db import models

__all__ = [
    "ROLE_SCOPES",
    "Role",
    "Scope",
    "has_staff_access",
    "mfa_required_for",
    "outranks",
    "rate_for",
    "requests_per_second",
    "role_rate_cap",
    "scopes_for",
]


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    DEVELOPER = "developer", "Developer"
    USER = "user", "User"
    GUEST = "guest", "Guest"
    SERVICE_ACCOUNT = "service_account", "Service account"


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

# For "nobody can raise their own role": a move to a higher rank needs someone else.
_RANK: dict[str, int] = {
    Role.GUEST: 0,
    Role.USER: 1,
    Role.DEVELOPER: 2,
    Role.SERVICE_ACCOUNT: 2,
    Role.ADMIN: 3,
}


def scopes_for(role: str) -> frozenset[str]:
    """Every scope the role allows (a JWT user has all of them; a key has a subset)."""
    return ROLE_SCOPES.get(role, frozenset())


def has_staff_access(*, role: str, is_active: bool) -> bool:
    """Django admin access (is_staff, is_superuser, every permission): active admins only."""
    return is_active and role == Role.ADMIN


def mfa_required_for(role: str) -> bool:
    """Whether this role's admin API and Django admin need a second factor (MFA_REQUIRED_FOR_ROLES)."""
    return role in settings.MFA_REQUIRED_FOR_ROLES


def rate_for(role: str) -> str:
    """Authenticated requests allowed per user of this role (settings RATELIMIT_<ROLE>);
    an unknown role gets the guest rate."""
    rates: dict[str, str] = settings.RATELIMIT_BY_ROLE
    return rates.get(role, rates[Role.GUEST])


def role_rate_cap(role: str) -> str:
    """The highest rate a key of this role's owner may ask for ("" when there is none)."""
    rates: dict[str, str] = settings.RATELIMIT_BY_ROLE
    return rates.get(role, "")


def requests_per_second(rate: str) -> float:
    """ "100/h" -> 0.0277...; django-ratelimit's forms, "100/5m" included."""
    match = re.fullmatch(r"(\d+)/(\d*)([smhd])", rate.strip())
    if not match:
        raise ValueError(f"not a rate: {rate!r}")
    count, multiplier, unit = match.groups()
    seconds = int(multiplier or 1) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit]
    return int(count) / seconds


def outranks(new_role: str, current_role: str) -> bool:
    """Whether moving from `current_role` to `new_role` raises the holder's power."""
    return _RANK[new_role] > _RANK[current_role]
