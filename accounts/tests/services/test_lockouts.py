"""accounts.services.lockouts: clearing failed-login records, audited."""

import pytest
from axes.models import AccessAttempt

from accounts.services.lockouts import lockout_clear
from audit.models import AuditEvent

pytestmark = pytest.mark.django_db


def attempt(username: str, ip: str = "203.0.113.5") -> AccessAttempt:
    return AccessAttempt.objects.create(
        username=username, ip_address=ip, user_agent="pytest", failures_since_start=5
    )


def test_lockout_clear_of_a_user_removes_their_username_and_email_records_only(user):
    attempt("alice"), attempt("alice@example.com"), attempt("bob")
    assert lockout_clear(user=user) == 2
    assert list(AccessAttempt.objects.values_list("username", flat=True)) == ["bob"]
    event = AuditEvent.objects.get(event="auth.unlocked")
    assert event.target_user_id == user.pk and event.details == {"records_cleared": 2, "scope": "user"}


def test_lockout_clear_of_everyone_removes_every_record_and_audits_star():
    attempt("alice"), attempt("bob")
    assert lockout_clear(everyone=True) == 2
    assert not AccessAttempt.objects.exists()
    assert AuditEvent.objects.get(event="auth.unlocked").target_label == "*"


def test_lockout_clear_without_a_user_or_everyone_is_a_programming_error():
    with pytest.raises(ValueError, match="say whose lockout to clear"):
        lockout_clear()
