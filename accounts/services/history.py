"""Password history: the last PASSWORD_HISTORY_COUNT password hashes of each user (hashes
only, checked with Django's check_password), so a change or reset cannot go back to one."""

from django.conf import settings
from django.contrib.auth.hashers import check_password

from accounts.errors import PasswordInvalid
from accounts.models import PasswordHistory, User

PASSWORD_REUSED = "This password was used recently: choose one you have not used before."  # noqa: S105


def password_history_check(*, user: User, password: str, field: str = "new_password") -> None:
    """Refuse the current password and any of the last N (PasswordInvalid, 400)."""
    count = settings.PASSWORD_HISTORY_COUNT
    if count <= 0:
        return
    hashes = list(
        PasswordHistory.objects.filter(user_id=user.pk)
        .order_by("-created_at", "-pk")[:count]
        .values_list("password", flat=True)
    )
    if user.password and user.password not in hashes:
        hashes = [user.password, *hashes[: count - 1]]
    if any(check_password(password, encoded) for encoded in hashes if encoded):
        raise PasswordInvalid(errors={field: [PASSWORD_REUSED]})


def password_history_record(*, user: User) -> None:
    """Remember the user's new hash (in the caller's transaction) and forget older ones."""
    count = settings.PASSWORD_HISTORY_COUNT
    if count <= 0 or not user.has_usable_password():
        return
    PasswordHistory.objects.create(user=user, password=user.password)
    keep = PasswordHistory.objects.filter(user_id=user.pk).order_by("-created_at", "-pk")[:count]
    PasswordHistory.objects.filter(user_id=user.pk).exclude(
        pk__in=list(keep.values_list("pk", flat=True))
    ).delete()
