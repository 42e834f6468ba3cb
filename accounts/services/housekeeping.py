"""Housekeeping: deleting what has expired, in short transactions."""

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from axes.models import AccessAttempt, AccessFailureLog
from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from accounts import hooks
from accounts.models import KnownLoginAddress, LockoutEpisode, MfaChallenge, Session
from audit.models import Event
from audit.services import audit_record
from core.request import SYSTEM, RequestMeta

SESSION_RETENTION = timedelta(days=7)
ATTEMPT_LOG_RETENTION = timedelta(days=30)


def _cleanup_targets(now: datetime) -> dict[str, QuerySet[Any]]:
    """What goes, in order: tokens and sessions, then other apps' rows (hooks.on_cleanup:
    API keys), then failed-login records, the lockout episodes that have ended and the known
    login addresses unused for KNOWN_ADDRESS_RETENTION_DAYS (the table would otherwise grow
    with every address every account ever used)."""
    cooloff_start = now - settings.AXES_COOLOFF_TIME
    targets: dict[str, QuerySet[Any]] = {
        "tokens": OutstandingToken.objects.filter(expires_at__lt=now),
        "sessions": Session.objects.filter(Q(expires_at__lt=now) | Q(revoked_at__lt=now - SESSION_RETENTION)),
        "mfa_challenges": MfaChallenge.objects.filter(expires_at__lt=now),
    }
    for contribute in hooks.cleanup_targets:
        targets.update(contribute(now))
    targets["attempts"] = AccessAttempt.objects.filter(attempt_time__lt=cooloff_start)
    targets["lockouts"] = LockoutEpisode.objects.filter(expires_at__lt=now)
    targets["failure_logs"] = AccessFailureLog.objects.filter(attempt_time__lt=now - ATTEMPT_LOG_RETENTION)
    targets["known_addresses"] = KnownLoginAddress.objects.filter(
        last_seen__lt=now - timedelta(days=settings.KNOWN_ADDRESS_RETENTION_DAYS)
    )
    return targets


def auth_cleanup(
    *,
    dry_run: bool = False,
    batch_size: int = 5000,
    progress: Callable[[str, int], None] | None = None,
    meta: RequestMeta = SYSTEM,
) -> dict[str, int]:
    """Delete expired refresh-token records (and their blacklist rows), ended sessions,
    expired API keys, old failed-login records and long-unused known login addresses, in batches of short transactions so no
    statement holds locks for long. Returns counts per kind (what would go, with dry_run)."""
    now = timezone.now()
    counts: dict[str, int] = {}
    for name, queryset in _cleanup_targets(now).items():
        if dry_run:
            counts[name] = queryset.count()
            continue
        deleted = 0
        while True:
            ids = list(queryset.order_by().values_list("pk", flat=True)[:batch_size])
            if not ids:
                break
            with transaction.atomic():
                # Only the rows of this batch: by primary key, no long range scan under lock.
                queryset.model.objects.filter(pk__in=ids).delete()
            deleted += len(ids)
            if progress:
                progress(name, deleted)
        counts[name] = deleted
    if not dry_run:
        audit_record(event=Event.CLEANUP_RAN, meta=meta, details=counts)
    return counts
