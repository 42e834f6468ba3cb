from django.db.models import QuerySet

from accounts.models import User
from apikeys.models import APIKey
from config.errors import NotFound


def apikey_list_for_owner(*, owner: User) -> QuerySet[APIKey]:
    return APIKey.objects.filter(owner_id=owner.pk).order_by("-created_at")


def apikey_get_for_owner(*, owner: User, key_id: int) -> APIKey:
    key = APIKey.objects.filter(pk=key_id, owner_id=owner.pk).first()
    if key is None:
        raise NotFound()
    return key


def apikey_list(*, username: str | None = None) -> QuerySet[APIKey]:
    """All keys (operators), newest first, optionally one owner's."""
    keys = APIKey.objects.select_related("owner").order_by("-created_at")
    if username:
        keys = keys.filter(owner__username__iexact=username)
    return keys
