"""Every write to API keys: create and revoke."""

import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from accounts.principal import Principal
from accounts.roles import Scope, role_rate_cap, scopes_for
from apikeys.cache import EPOCH, publish_key_revoked
from apikeys.errors import (
    BAD_RATE_LIMIT,
    RATE_BEYOND_ROLE,
    SCOPE_BEYOND_KEY,
    SCOPE_NOT_ALLOWED,
    TOO_MANY_KEYS,
    UNKNOWN_SCOPE,
)
from apikeys.keys import key_generate, secret_hash
from apikeys.models import APIKey
from audit.models import Event
from audit.services import audit_record
from core.errors import NotFound, ServiceError
from core.request import SYSTEM, RequestMeta

if TYPE_CHECKING:
    from apikeys.authentication import KeyPrincipal

RATE_LIMIT_SHAPE = re.compile(r"^[1-9][0-9]{0,6}/[smhd]\Z")
NAME_REQUIRED = "Give the key a name."


def apikey_create(
    *,
    owner: User | Principal,
    name: str,
    scopes: list[str],
    expires_in_days: int | None = None,
    rate_limit: str = "",
    parent: "KeyPrincipal | None" = None,
    meta: RequestMeta = SYSTEM,
) -> tuple[APIKey, str]:
    """Create a key for `owner`; returns the row and the full key, which is never stored.

    A key made with a key (`parent`) gets no scope its parent lacks and never outlives it.
    """
    name = (name or "").strip()
    if not name:
        raise ServiceError(errors={"name": [NAME_REQUIRED]})
    scopes = sorted(set(scopes))
    unknown = [s for s in scopes if s not in Scope.values]
    if unknown or not scopes:
        message = UNKNOWN_SCOPE % {"scope": ", ".join(unknown)} if unknown else "Give at least one scope."
        raise ServiceError(errors={"scopes": [message]})
    allowed = scopes_for(owner.role)
    beyond = [s for s in scopes if s not in allowed]
    if beyond:
        raise ServiceError(errors={"scopes": [SCOPE_NOT_ALLOWED % {"scope": ", ".join(beyond)}]})
    if parent is not None:
        beyond_parent = [s for s in scopes if s not in parent.scopes]
        if beyond_parent:
            raise ServiceError(errors={"scopes": [SCOPE_BEYOND_KEY % {"scope": ", ".join(beyond_parent)}]})
    if rate_limit:
        if not RATE_LIMIT_SHAPE.match(rate_limit):
            raise ServiceError(errors={"rate_limit": [BAD_RATE_LIMIT]})
        role_rate = role_rate_cap(owner.role)
        if role_rate and requests_per_second(rate_limit) > requests_per_second(role_rate):
            raise ServiceError(errors={"rate_limit": [RATE_BEYOND_ROLE % {"rate": role_rate}]})
    days = settings.API_KEY_DEFAULT_DAYS if expires_in_days is None else expires_in_days
    if not 1 <= days <= 3650:
        raise ServiceError(errors={"expires_in_days": ["Use 1 to 3650 days."]})

    full_key, prefix, secret = key_generate()
    now = timezone.now()
    expires_at = _not_after_parent(now + timedelta(days=days), parent)
    with transaction.atomic():
        # Lock the owner so two concurrent creations cannot both pass the limit.
        User.objects.select_for_update().filter(pk=owner.pk).first()
        active = APIKey.objects.filter(owner_id=owner.pk, revoked_at__isnull=True).count()
        if active >= settings.API_KEY_MAX_ACTIVE_PER_USER:
            raise ServiceError(TOO_MANY_KEYS, errors={"name": [TOO_MANY_KEYS]})
        key = APIKey.objects.create(
            owner_id=owner.pk,
            name=name[:100],
            prefix=prefix,
            secret_hash=secret_hash(secret),
            scopes=scopes,
            created_at=now,
            expires_at=expires_at,
            rate_limit=rate_limit,
        )
        audit_record(
            event=Event.APIKEY_CREATED,
            meta=meta,
            target=owner,
            details={
                "key_id": key.pk,
                "prefix": prefix,
                "name": key.name,
                "scopes": scopes,
                "expires_at": expires_at.isoformat(),
            },
        )
    return key, full_key


def requests_per_second(rate: str) -> float:
    """ "100/h" -> 0.0277...; django-ratelimit's forms, "100/5m" included."""
    match = re.fullmatch(r"(\d+)/(\d*)([smhd])", rate.strip())
    if not match:
        raise ValueError(f"not a rate: {rate!r}")
    count, multiplier, unit = match.groups()
    seconds = int(multiplier or 1) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit]
    return int(count) / seconds


def _not_after_parent(expires_at: datetime, parent: "KeyPrincipal | None") -> datetime:
    if parent is None or parent.expires_at is None:
        return expires_at
    return min(expires_at, EPOCH + timedelta(microseconds=parent.expires_at))


def apikey_revoke(*, key: APIKey, meta: RequestMeta = SYSTEM) -> APIKey:
    """Revoke a key: it fails on the next request in every process; the record stays."""
    with transaction.atomic():
        key = APIKey.objects.select_for_update().select_related("owner").get(pk=key.pk)
        if key.revoked_at is None:
            key.revoked_at = timezone.now()
            key.save(update_fields=["revoked_at"])
            audit_record(
                event=Event.APIKEY_REVOKED,
                meta=meta,
                target=key.owner,
                details={"key_id": key.pk, "prefix": key.prefix, "name": key.name},
            )
        publish_key_revoked(key)
    return key


def apikey_revoke_for_owner(*, owner_id: int, key_id: int, meta: RequestMeta = SYSTEM) -> APIKey:
    """Revoke one of the owner's keys; anyone else's is NotFound."""
    key = APIKey.objects.filter(pk=key_id, owner_id=owner_id).first()
    if key is None:
        raise NotFound()
    return apikey_revoke(key=key, meta=meta)
