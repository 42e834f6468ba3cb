"""accounts.services.housekeeping: what auth_cleanup removes, and its audit."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Session
from accounts.services.housekeeping import auth_cleanup
from accounts.tests.factories import session_open
from audit.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_auth_cleanup_removes_ended_sessions_keeps_live_ones_and_audits_the_counts(user):
    ended, _pair = session_open(user)
    live, _pair = session_open(user)
    Session.objects.filter(pk=ended.pk).update(expires_at=timezone.now() - timedelta(days=1))

    assert auth_cleanup(dry_run=True)["sessions"] == 1 and Session.objects.count() == 2
    assert not AuditEvent.objects.filter(event="system.cleanup").exists()
    counts = auth_cleanup()
    assert counts["sessions"] == 1
    assert list(Session.objects.values_list("pk", flat=True)) == [live.pk]
    # "tokens" and "api_keys" are scrubbed from details like any credential-sounding key.
    assert AuditEvent.objects.get(event="system.cleanup").details["sessions"] == 1


def test_auth_cleanup_removes_ended_lockout_episodes_only():
    from accounts.models import LockKind, LockoutEpisode

    now = timezone.now()
    LockoutEpisode.objects.create(kind=LockKind.PAIR, username="a", ip_bucket="198.51.100.1", expires_at=now)
    live = LockoutEpisode.objects.create(
        kind=LockKind.IP, ip_bucket="198.51.100.1", expires_at=now + timedelta(minutes=5)
    )
    assert auth_cleanup()["lockouts"] == 1
    assert list(LockoutEpisode.objects.values_list("pk", flat=True)) == [live.pk]
