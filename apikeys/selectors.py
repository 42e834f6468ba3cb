"""Reads of API keys: an owner's keys, every key for operators, the housekeeping numbers."""

from datetime import datetime

from django.db.models import QuerySet

from apikeys.models import APIKey
from core.errors import NotFound


def apikey_list_for_owner(*, owner_id: int) -> QuerySet[APIKey]:
    """The owner's keys, newest first."""
    return APIKey.objects.filter(owner_id=owner_id).order_by("-created_at")


def apikey_get_for_owner(*, owner_id: int, key_id: int) -> APIKey:
    """One of the owner's keys; anyone else's is NotFound."""
    key = APIKey.objects.filter(pk=key_id, owner_id=owner_id).first()
    if key is None:
        raise NotFound()
    return key


def apikey_list(*, username: str | None = None) -> QuerySet[APIKey]:
    """All keys (operators), newest first, optionally one owner's."""
    keys = APIKey.objects.select_related("owner").order_by("-created_at")
    if username:
        keys = keys.filter(owner__username__iexact=username)
    return keys


def apikey_cleanup_targets(now: datetime) -> dict[str, QuerySet[APIKey]]:
    """For auth_cleanup (registered in ApiKeysConfig.ready): keys past their expiry."""
    return {"api_keys": APIKey.objects.filter(expires_at__lt=now)}


def apikey_stats(now: datetime) -> dict[str, int]:
    """For auth_stats (registered in ApiKeysConfig.ready): keys usable now."""
    return {"active_api_keys": APIKey.objects.filter(revoked_at__isnull=True, expires_at__gt=now).count()}
