"""The security overview on the admin index: counts per window, bars, links to the audit log."""

import re
from datetime import timedelta
from html import unescape
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.cache import cache
from django.utils import timezone

from accounts.tests.helpers import staff_login
from audit.models import AuditEvent, Event
from audit.overview import CACHE_KEY, security_overview_compute
from audit.services import audit_record
from core.request import SYSTEM

pytestmark = pytest.mark.django_db


def seed(event: str, *ages: timedelta) -> None:
    """One event of that kind per age (how long ago it happened)."""
    now = timezone.now()
    for age in ages:
        row = audit_record(event=event, meta=SYSTEM)
        AuditEvent.objects.filter(pk=row.pk).update(timestamp=now - age)


H, D = timedelta(hours=1), timedelta(days=1)


@pytest.fixture
def seeded(db):
    seed(Event.LOGIN_SUCCEEDED, *[timedelta(minutes=1)] * 3, 5 * H, 3 * D)
    seed(Event.LOGIN_FAILED, timedelta(minutes=2), 2 * H, 2 * H, 30 * H, 6 * D, 9 * D)
    seed(Event.LOCKED_OUT, 2 * H)
    seed(Event.TOKEN_REUSED, 4 * D)
    seed(Event.RATELIMIT_EXCEEDED, 10 * H, 10 * H)
    seed(Event.APIKEY_CREATED, timedelta(minutes=5))
    seed(Event.TOKEN_REFRESHED, timedelta(minutes=1))  # not on the overview


def by_key(overview: dict) -> dict:
    return {s["key"]: s for s in overview["series"]}


def test_counts_per_window_and_bucket(seeded):
    now = timezone.now()
    series = by_key(security_overview_compute(now=now))
    day = {k: s["day_total"] for k, s in series.items()}
    assert day == {
        "logins_succeeded": 4,
        "logins_failed": 3,
        "lockouts": 1,
        "token_reuse": 0,
        "ratelimited": 2,
        "new_api_keys": 1,
    }
    # 7 days are today and the 6 before (UTC): 30 h and 6 days ago may fall either side of midnight.
    week_start = now.replace(hour=0, minute=0, second=0, microsecond=0) - 6 * D
    failed_in_week = sum(
        now - age >= week_start for age in (timedelta(minutes=2), 2 * H, 2 * H, 30 * H, 6 * D, 9 * D)
    )
    assert series["logins_failed"]["week_total"] == failed_in_week
    assert series["token_reuse"]["week_total"] == 1
    assert series["logins_succeeded"]["week_total"] == 5
    hourly = [bar["count"] for bar in series["logins_failed"]["day_chart"]["bars"]]
    assert len(hourly) == 24 and sum(hourly) == 3
    two_minutes_ago = (now - timedelta(minutes=2)).replace(minute=0, second=0, microsecond=0)
    assert hourly[23 - int((now.replace(minute=0, second=0, microsecond=0) - two_minutes_ago) / H)] == 1
    assert len(series["logins_failed"]["week_chart"]["bars"]) == 7
    assert sum(bar["count"] for bar in series["logins_failed"]["week_chart"]["bars"]) == failed_in_week


def test_links_open_the_audit_log_filtered_to_the_same_events(seeded, client, admin_user):
    staff_login(client, admin_user)
    series = by_key(security_overview_compute())
    for key, total_key, url_key in [
        ("logins_failed", "day_total", "day_url"),
        ("logins_succeeded", "week_total", "week_url"),
        ("ratelimited", "day_total", "day_url"),
    ]:
        url = series[key][url_key]
        query = parse_qs(urlsplit(url).query)
        assert set(query) == {"event__exact", "timestamp__gte"}
        page = client.get(url)
        assert page.status_code == HTTPStatus.OK, url
        assert len(page.context["cl"].result_list) == series[key][total_key]
    bar = next(b for b in series["logins_failed"]["day_chart"]["bars"] if b["count"] == 2)
    page = client.get(bar["url"])
    assert page.status_code == HTTPStatus.OK
    assert {e.event for e in page.context["cl"].result_list} == {Event.LOGIN_FAILED}
    assert len(page.context["cl"].result_list) == 2


def test_admin_index_shows_the_overview_above_the_apps(seeded, client, admin_user):
    staff_login(client, admin_user)
    html = client.get("/admin/").content.decode()
    assert html.index('id="security-overview"') < html.index('class="app-accounts module')
    row = re.search(r'<tr id="overview-logins_failed">(.*?)</tr>', html, re.S).group(1)
    assert re.search(r'class="day-count" href="[^"]+"[^>]*>3</a>', row)
    assert row.count("<svg") == 2
    href = unescape(re.search(r'class="day-count" href="([^"]+)"', row).group(1))
    assert href.startswith("/admin/audit/auditevent/?event__exact=auth.login_failed&timestamp__gte=")
    assert "<script" not in html.split('id="security-overview"')[1].split("</div>")[0]
    assert "Users" in html  # the app list is still there


def test_overview_is_cached_for_a_minute(seeded, client, admin_user):
    staff_login(client, admin_user)
    client.get("/admin/")
    assert cache.get(CACHE_KEY) is not None
    seed(Event.LOCKED_OUT, timedelta(minutes=1))
    html = client.get("/admin/").content.decode()
    row = re.search(r'<tr id="overview-lockouts">(.*?)</tr>', html, re.S).group(1)
    assert re.search(r'class="day-count" href="[^"]+"[^>]*>1</a>', row)  # the cached count
    cache.delete(CACHE_KEY)
    html = client.get("/admin/").content.decode()
    row = re.search(r'<tr id="overview-lockouts">(.*?)</tr>', html, re.S).group(1)
    assert re.search(r'class="day-count" href="[^"]+"[^>]*>2</a>', row)


def test_overview_is_one_grouped_query_on_the_event_timestamp_index(seeded, django_assert_num_queries):
    with django_assert_num_queries(1) as captured:
        security_overview_compute()
    sql = captured.captured_queries[0]["sql"]
    assert "GROUP BY" in sql
    assert '"audit_auditevent"."event" IN' in sql
    assert '"audit_auditevent"."timestamp" >=' in sql
