"""Lockouts: clearing the failed-login records that django-axes counts."""

from axes.models import AccessAttempt
from django.db import transaction

from accounts.models import User
from audit.models import Event
from audit.services import audit_record
from core.request import SYSTEM, RequestMeta


def lockout_clear(*, user: User | None = None, everyone: bool = False, meta: RequestMeta = SYSTEM) -> int:
    """Clear failed-login records of one user (by username and email) or of everyone."""
    if user is None and not everyone:
        raise ValueError("say whose lockout to clear")
    with transaction.atomic():
        attempts = AccessAttempt.objects.all()
        if user is not None and not everyone:
            attempts = attempts.filter(username__in=[user.username.lower(), user.email.lower()])
        cleared, _ = attempts.delete()
        audit_record(
            event=Event.UNLOCKED,
            meta=meta,
            target=user,
            target_label="" if user else "*",
            details={"records_cleared": cleared, "scope": "all" if everyone else "user"},
        )
    return cleared
