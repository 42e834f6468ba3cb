"""Lockouts: auditing failed logins and the locks they start, remembering the addresses an
account logs in from, and clearing the failed-login records that django-axes counts."""

from dataclasses import dataclass

from axes.models import AccessAttempt
from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from accounts.lockout import LockState, login_identifier
from accounts.models import KnownLoginAddress, LockKind, LockoutEpisode, User
from accounts.selectors import user_by_identifier
from audit.models import Event, Outcome
from audit.services import audit_record
from core.request import SYSTEM, RequestMeta, ip_bucket


@dataclass(frozen=True)
class LoginFailure:
    """What a failed login amounts to: refused by a lock (which), or just a wrong password."""

    locked: bool
    lock: str | None


def login_failure_record(
    *, request: HttpRequest, identifier: str, meta: RequestMeta, channel: str | None = None
) -> LoginFailure:
    """Audit a failed login (django-axes has counted it) and every lock it started, each lock
    exactly once per episode however many failures cross its limit at the same moment.

    `channel` ("admin") marks logins that did not come through the API.
    """
    state: LockState = getattr(request, "gatehouse_lock_state", None) or LockState()
    locked = bool(getattr(request, "axes_locked_out", False))
    lock = state.refusing if locked else None
    target = user_by_identifier(identifier)
    if locked and getattr(request, "gatehouse_refused_unchecked", False):
        reason = "account_locked"  # refused before the password was looked at
    elif target is not None and not target.is_active:
        reason = "inactive"
    else:
        reason = "invalid_credentials"
    label = identifier.strip()[:150]
    extra = {"channel": channel} if channel else {}
    details: dict = {"reason": reason, "failures": state.counts.get(lock or LockKind.PAIR, 0), **extra}
    if lock:
        details["lock"] = lock
    username = login_identifier(request, {"username": identifier}) or ""
    bucket = getattr(request, "axes_ip_address", None) or ""
    with transaction.atomic():
        audit_record(
            event=Event.LOGIN_FAILED,
            meta=meta,
            outcome=Outcome.FAILURE,
            target=target,
            target_label=label,
            details=details,
        )
        for kind in state.holding:
            if _episode_claim(kind=kind, username=username, ip=bucket):
                audit_record(
                    event=Event.LOCKED_OUT,
                    meta=meta,
                    outcome=Outcome.FAILURE,
                    target=target,
                    target_label=label,
                    details={
                        "lock": kind,
                        "failures": state.counts[kind],
                        "cooloff_minutes": settings.AXES_COOLOFF_MINUTES,
                        **extra,
                    },
                )
    return LoginFailure(locked=locked, lock=lock)


def _episode_claim(*, kind: str, username: str, ip: str) -> bool:
    """True for exactly one failure per lock episode: the one that inserts the lock's row, or
    takes it over after it expired. The others only push its expiry on (the cool-off counts
    from the last failure). Concurrent claims serialise on the row (or its unique key)."""
    key = {
        "kind": kind,
        "username": "" if kind == LockKind.IP else username,
        "ip_bucket": "" if kind == LockKind.ACCOUNT else ip,
    }
    now = timezone.now()
    until = now + settings.AXES_COOLOFF_TIME
    episodes = LockoutEpisode.objects.filter(**key)
    if episodes.filter(expires_at__lte=now).update(locked_at=now, expires_at=until):
        return True
    try:
        with transaction.atomic():
            LockoutEpisode.objects.create(**key, locked_at=now, expires_at=until)
        return True
    except IntegrityError:
        episodes.update(expires_at=until)
        return False


def known_address_record(*, user: User, ip_address: str | None) -> None:
    """Remember that `user` logged in from this address (its IPv4 address or IPv6 prefix), in
    the caller's transaction: the per-account lock never refuses it."""
    bucket = ip_bucket(ip_address)
    if bucket is None:
        return
    KnownLoginAddress.objects.bulk_create(
        [KnownLoginAddress(user=user, ip_bucket=bucket, last_seen=timezone.now())],
        update_conflicts=True,
        unique_fields=["user", "ip_bucket"],
        update_fields=["last_seen"],
    )


def admin_login_record(*, user: User, meta: RequestMeta) -> None:
    """Audit a login to the Django admin (its cookie session is Django's) and remember the address."""
    with transaction.atomic():
        known_address_record(user=user, ip_address=meta.ip_address)
        audit_record(
            event=Event.LOGIN_SUCCEEDED, meta=meta, actor=user, target=user, details={"channel": "admin"}
        )


def admin_login_refused(*, user: User, meta: RequestMeta) -> None:
    """Audit the right password for an account without staff access at the admin's login."""
    audit_record(
        event=Event.LOGIN_FAILED,
        meta=meta,
        outcome=Outcome.FAILURE,
        target=user,
        details={"reason": "not_staff", "channel": "admin"},
    )


def lockout_clear(*, user: User | None = None, everyone: bool = False, meta: RequestMeta = SYSTEM) -> int:
    """Clear failed-login records of one user (by username and email) or of everyone."""
    if user is None and not everyone:
        raise ValueError("say whose lockout to clear")
    with transaction.atomic():
        attempts = AccessAttempt.objects.all()
        episodes = LockoutEpisode.objects.all()
        if user is not None and not everyone:
            names = [user.username.lower(), user.email.lower()]
            attempts = attempts.filter(username__in=names)
            episodes = episodes.filter(username__in=names)
        cleared, _ = attempts.delete()
        # A later lockout is a new episode, audited again.
        episodes.delete()
        audit_record(
            event=Event.UNLOCKED,
            meta=meta,
            target=user,
            target_label="" if user else "*",
            details={"records_cleared": cleared, "scope": "all" if everyone else "user"},
        )
    return cleared
