"""The security overview on the admin index, in a real headless Chromium (see test_admin_browser)."""

import random
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from audit.models import AuditEvent, Event, Outcome
from audit.overview import CACHE_KEY
from audit.services import audit_record
from core.request import SYSTEM
from tests.conftest import ARTIFACTS
from tests.test_admin_browser import admin_login, page  # noqa: F401 - `page` is a fixture

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

# How many events of each kind, and over how many hours back they are spread.
# (count, at most this many hours old). The overview's week starts at midnight six days ago,
# so anything under 6 × 24 hours old is inside it at any time of day (a week of hours was not,
# shortly after midnight UTC).
SEEDED = {
    Event.LOGIN_SUCCEEDED: (60, 6 * 24),
    Event.LOGIN_FAILED: (45, 6 * 24),
    Event.LOCKED_OUT: (4, 6 * 24),
    Event.TOKEN_REUSED: (2, 6 * 24),
    Event.RATELIMIT_EXCEEDED: (12, 6 * 24),
    Event.APIKEY_CREATED: (6, 6 * 24),
}
ROWS = {
    "logins_succeeded": Event.LOGIN_SUCCEEDED,
    "logins_failed": Event.LOGIN_FAILED,
    "lockouts": Event.LOCKED_OUT,
    "token_reuse": Event.TOKEN_REUSED,
    "ratelimited": Event.RATELIMIT_EXCEEDED,
    "new_api_keys": Event.APIKEY_CREATED,
}


def seed_events() -> None:
    """Events spread over the last week, more of them in the last day (a burst of failures)."""
    rng = random.Random(16)
    now = timezone.now()
    for event, (count, hours_back) in SEEDED.items():
        for i in range(count):
            recent = i % 2 == 0
            age = timedelta(minutes=rng.uniform(1, 60 * (23 if recent else hours_back - 1)))
            if event == Event.LOGIN_FAILED and i < 15:
                age = timedelta(minutes=rng.uniform(125, 175))  # the burst, about 2-3 hours ago
            outcome = (
                Outcome.SUCCESS if event in {Event.LOGIN_SUCCEEDED, Event.APIKEY_CREATED} else Outcome.FAILURE
            )
            row = audit_record(event=event, meta=SYSTEM, outcome=outcome)
            AuditEvent.objects.filter(pk=row.pk).update(timestamp=now - age)


def expected_counts() -> dict[str, tuple[int, int]]:
    """What the overview must show, counted independently: (last 24 hours, last 7 days)."""
    now = timezone.now()
    this_hour = now.replace(minute=0, second=0, microsecond=0)
    day_since = this_hour - timedelta(hours=23)
    week_since = this_hour.replace(hour=0) - timedelta(days=6)
    out = {}
    for key, event in ROWS.items():
        rows = AuditEvent.objects.filter(event=event)
        out[key] = (
            rows.filter(timestamp__gte=day_since).count(),
            rows.filter(timestamp__gte=week_since).count(),
        )
    return out


def test_security_overview_counts_charts_and_links(page):  # noqa: F811
    seed_events()
    admin_login(page)
    cache.delete(CACHE_KEY)  # whatever the login page rendered, count everything seeded
    page.goto(page.base + "/admin/")
    overview = page.locator("#security-overview")
    overview.wait_for()
    page.shot("20-security-overview")
    overview.screenshot(path=str(ARTIFACTS / "screenshots" / "21-security-overview-module.png"))

    expected = expected_counts()
    # The seeded numbers themselves, except that an audited admin login may add a success.
    assert expected["logins_failed"][1] == 45 and expected["lockouts"][1] == 4
    assert expected["logins_succeeded"][1] >= 60
    for key, (day, week) in expected.items():
        row = page.locator(f"#overview-{key}")
        assert row.locator(".day-count").inner_text() == str(day), key
        assert row.locator(".week-count").inner_text() == str(week), key
        assert row.locator("svg").count() == 2
        assert row.locator("svg").nth(0).locator("rect.bar").count() > 0 or day == 0
    assert page.locator("#security-overview script").count() == 0
    assert page.locator(".app-accounts").count() == 1  # the app list is still below

    # A count opens the audit log filtered to exactly those events.
    failed_today = expected["logins_failed"][0]
    page.locator("#overview-logins_failed .day-count").click()
    page.wait_for_selector("#result_list")
    page.shot("22-overview-failed-logins")
    assert page.locator("#result_list tbody tr").count() == failed_today
    assert set(page.locator("#result_list tbody td.field-event").all_inner_texts()) == {"Login failed"}
