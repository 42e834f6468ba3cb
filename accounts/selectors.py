"""Reads that carry a rule: who a login name or reset link points at, which sessions a user
sees, whether a token is still good, who is locked out, the numbers for staff."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.encoding import force_str
from django.utils.http import urlsafe_base64_decode
from rest_framework_simplejwt.utils import datetime_from_epoch

from accounts import auth_state, hooks
from accounts.emails import email_lookup_key
from accounts.errors import TokenExpired, TokenNotValid, TokenRevoked
from accounts.models import Session, User
from accounts.roles import Role
from accounts.tokens import access_token_decode, refresh_token_decode
from audit.models import AuditEvent, Event
from core.cache import cache_get_many


def user_by_identifier(identifier: str) -> User | None:
    """The account a login name or email address points at, case-insensitively."""
    identifier = identifier.strip().lower()
    field = "email" if "@" in identifier else "username"
    if field == "email":
        identifier = email_lookup_key(identifier)
    return User.objects.alias(lookup=Lower(field)).filter(lookup=identifier).first()


def password_reset_user(*, uidb64: str, token: str) -> User | None:
    """The user a reset link is for, if the link is still good."""
    try:
        pk = int(force_str(urlsafe_base64_decode(uidb64)))
    except (TypeError, ValueError, OverflowError, UnicodeDecodeError):
        return None
    user = User.objects.filter(pk=pk, is_active=True).first()
    if user is None or not default_token_generator.check_token(user, token):
        return None
    return user


def session_owned(*, session_id, user_id: int) -> QuerySet[Session]:
    """The session with this id if it belongs to this user: found by its primary key, always.

    The owner is compared as an expression (`user_id + 0`) that no index holds. Compared as the
    plain column, the planner may pick the user's session index instead (its statistics say a
    user has about one session), and then walks every session that user ever had, and every
    dead row version each refresh leaves there until VACUUM: a refresh of an account with
    thousands of sessions (a kiosk, a script) read hundreds of pages, and got slower with
    every refresh (./bench/run --seed-sessions, README "Benchmarks").
    """
    return Session.objects.alias(owner=F("user_id") + 0).filter(pk=session_id, owner=user_id)


def session_list_for_user(*, user_id: int) -> QuerySet[Session]:
    """The user's live sessions, newest first."""
    return Session.objects.filter(
        user_id=user_id, revoked_at__isnull=True, expires_at__gt=timezone.now()
    ).order_by("-created_at")


def token_verify(
    *, raw_token: str, read: Callable[[list[str]], dict[str, Any]] = cache_get_many
) -> dict[str, Any]:
    """Whether a token would be accepted now; never raises for a bad token. `read` reads the
    cache (what the request's round trip prefetched)."""
    try:
        try:
            token = access_token_decode(raw_token)  # the common case, remembered per process
        except TokenExpired:
            raise
        except TokenNotValid:
            token = refresh_token_decode(raw_token)
        if token["token_type"] == "access":
            user_id = auth_state.principal_get(
                user_id=str(token["sub"]), session_id=str(token["sid"]), read=read
            ).id
        else:
            session = auth_state.session_for_refresh(token)
            if session is None or str(session.user_id) != str(token["sub"]):
                raise TokenNotValid()
            if session.refresh_jti != token["jti"] or not session.is_live() or not session.user.is_active:
                raise TokenRevoked()
            user_id = session.user_id
    except TokenNotValid as exc:
        return {"valid": False, "code": exc.code}
    return {
        "valid": True,
        "user_id": user_id,
        "token_type": token["token_type"],
        "expires_at": datetime_from_epoch(token["exp"]),
    }


def locked_identifiers() -> set[str]:
    """Login names (usernames or emails, lower-case) locked from at least one address now, or
    locked by the per-account limit (for addresses they have not logged in from)."""
    threshold = timezone.now() - settings.AXES_COOLOFF_TIME
    recent = AccessAttempt.objects.filter(attempt_time__gte=threshold)
    by_pair = (
        recent.values("username", "ip_address")
        .annotate(failures=Sum("failures_since_start"))
        .filter(failures__gte=settings.AXES_FAILURE_LIMIT)
        .values_list("username", flat=True)
    )
    by_account = (
        recent.values("username")
        .annotate(failures=Sum("failures_since_start"))
        .filter(failures__gte=settings.AXES_ACCOUNT_FAILURE_LIMIT)
        .values_list("username", flat=True)
    )
    return {name for name in [*by_pair, *by_account] if name}


def user_is_locked(*, user: User) -> bool:
    """Whether some address holds enough recent failures for the user's username or email."""
    locked = with_locked(User.objects.filter(pk=user.pk)).values_list("is_locked", flat=True)  # type: ignore[misc]  # annotated
    return bool(locked.first())


def auth_stats() -> dict[str, Any]:
    """The numbers on /api/v1/admin/stats and `manage.py auth_stats` (other apps add theirs
    through hooks.on_stats: API keys)."""
    now = timezone.now()
    by_role = dict.fromkeys(Role.values, 0)
    for row in User.objects.values("role").annotate(n=Count("pk")).order_by():
        by_role[row["role"]] = row["n"]
    stats: dict[str, Any] = {
        "users": {"total": sum(by_role.values()), "by_role": by_role},
        "active_sessions": Session.objects.filter(revoked_at__isnull=True, expires_at__gt=now).count(),
        "locked_accounts": user_list(locked=True).count(),
        "failed_logins_24h": AuditEvent.objects.filter(
            event=Event.LOGIN_FAILED, timestamp__gte=now - timedelta(hours=24)
        ).count(),
    }
    for contribute in hooks.stats_contributions:
        stats.update(contribute(now))
    return stats


def user_list(
    *,
    search: str | None = None,
    role: str | None = None,
    is_active: bool | None = None,
    locked: bool | None = None,
) -> QuerySet[User]:
    """Users for staff, newest first, with the admin API's filters."""
    users = User.objects.order_by("-date_joined", "-pk")
    if search:
        users = users.filter(
            Q(username__icontains=search) | Q(email__icontains=search) | Q(full_name__icontains=search)
        )
    if role:
        users = users.filter(role=role)
    if is_active is not None:
        users = users.filter(is_active=is_active)
    users = with_locked(users)
    if locked is not None:
        # From the (small) set of locked names: served by the unique LOWER() indexes.
        names = locked_identifiers()
        users = users.alias(username_l=Lower("username"), email_l=Lower("email"))
        matches = Q(username_l__in=names) | Q(email_l__in=names)
        users = users.filter(matches) if locked else users.exclude(matches)
    return users


def with_locked(users: QuerySet[User]) -> QuerySet[User]:
    """Annotate `is_locked`: some address holds AXES_FAILURE_LIMIT recent failures for the
    user's username or email, or all addresses together AXES_ACCOUNT_FAILURE_LIMIT."""
    threshold = timezone.now() - settings.AXES_COOLOFF_TIME
    names = Q(username=Lower(OuterRef("username"))) | Q(username=Lower(OuterRef("email")))
    recent = AccessAttempt.objects.filter(attempt_time__gte=threshold).filter(names)
    by_pair = (
        recent.values("ip_address")
        .annotate(failures=Sum("failures_since_start"))
        .filter(failures__gte=settings.AXES_FAILURE_LIMIT)
    )
    by_account = (
        recent.values("username")
        .annotate(failures=Sum("failures_since_start"))
        .filter(failures__gte=settings.AXES_ACCOUNT_FAILURE_LIMIT)
    )
    return users.annotate(is_locked=Exists(by_pair) | Exists(by_account))


def users_named(name: str) -> QuerySet[User]:
    """The user with this username, in any case: one lookup in the unique LOWER() index."""
    return User.objects.alias(username_l=Lower("username")).filter(username_l=name.strip().lower())


def session_count_live(*, user_id: int) -> int:
    """How many of the user's sessions are live (through the user's session index)."""
    now = timezone.now()
    return Session.objects.filter(
        user_id=user_id, revoked_at__isnull=True, expires_at__gt=now, absolute_expires_at__gt=now
    ).count()
