"""Every write to API keys: create and revoke."""

import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.mail import mail_send_later
from accounts.models import User
from accounts.principal import Principal
from accounts.roles import Scope, requests_per_second, role_rate_cap, scopes_for
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
            created_by_key_id=parent.id if parent is not None else None,
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
                "created_by_key_id": key.created_by_key_id,
            },
        )
        _mail_key_created(owner=owner, key=key, meta=meta)
    return key, full_key


def _mail_key_created(*, owner: User | Principal, key: APIKey, meta: RequestMeta) -> None:
    """Tell the owner a key was made, after commit: a key they did not make is an intrusion."""
    body = (
        f"A new API key was created for the Gatehouse account {owner.username}.\n\n"
        f"Name: {key.name}\n"
        f"Prefix: {key.prefix}\n"
        f"Scopes: {', '.join(key.scopes)}\n"
        f"From IP address: {meta.ip_address or 'unknown'}\n"
        f"At: {key.created_at.isoformat()}\n\n"
        "If it was not you, revoke the key and change your password (asking to revoke every "
        "API key).\n"
    )
    to = owner.email
    transaction.on_commit(lambda: mail_send_later(subject="New Gatehouse API key", body=body, to=to))


def _not_after_parent(expires_at: datetime, parent: "KeyPrincipal | None") -> datetime:
    if parent is None or parent.expires_at is None:
        return expires_at
    return min(expires_at, EPOCH + timedelta(microseconds=parent.expires_at))


def apikey_revoke(*, key: APIKey, meta: RequestMeta = SYSTEM, reason: str = "revoked") -> APIKey:
    """Revoke a key and every key minted from it, down the generations: they fail on the next
    request in every process; the records stay. Each revocation is audited with its reason."""
    with transaction.atomic():
        key = APIKey.objects.select_for_update().select_related("owner").get(pk=key.pk)
        _revoke(key, reason=reason, meta=meta)
        generation = [key.pk]
        while generation:
            children = list(
                APIKey.objects.select_for_update()
                .select_related("owner")
                .filter(created_by_key_id__in=generation)
                .order_by("pk")
            )
            for child in children:
                _revoke(child, reason=KEY_PARENT_REVOKED, meta=meta)
            generation = [child.pk for child in children]
    return key


KEY_PARENT_REVOKED = "parent_revoked"


def _revoke(key: APIKey, *, reason: str, meta: RequestMeta) -> None:
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
        audit_record(
            event=Event.APIKEY_REVOKED,
            meta=meta,
            target=key.owner,
            details={"key_id": key.pk, "prefix": key.prefix, "name": key.name, "reason": reason},
        )
    publish_key_revoked(key)


def apikeys_revoke_for_user(user_id: int, reason: str, meta: RequestMeta = SYSTEM) -> int:
    """Revoke every live key of a user for good (reset, deactivation, deletion), in the
    caller's transaction; accounts calls it through its `user_credentials_revoked` hook."""
    keys = list(
        APIKey.objects.select_for_update()
        .select_related("owner")
        .filter(owner_id=user_id, revoked_at__isnull=True)
        .order_by("pk")
    )
    for key in keys:
        _revoke(key, reason=reason, meta=meta)
    return len(keys)


def apikey_revoke_for_owner(*, owner_id: int, key_id: int, meta: RequestMeta = SYSTEM) -> APIKey:
    """Revoke one of the owner's keys (and what it minted); anyone else's is NotFound."""
    key = APIKey.objects.filter(pk=key_id, owner_id=owner_id).first()
    if key is None:
        raise NotFound()
    return apikey_revoke(key=key, meta=meta, reason="owner")
