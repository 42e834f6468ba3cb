"""The security overview on the admin index: counts of the last 24 hours and 7 days.

One grouped query over the (event, timestamp) index, hourly buckets over the last seven days
(the daily ones are their sums), kept in the cache for a minute: the admin index stays fast
on millions of events.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

from django.core.cache import cache
from django.db.models import Count
from django.db.models.functions import TruncHour
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent, Event

CACHE_KEY = "audit:security-overview:v1"
CACHE_SECONDS = 60
HOURS = 24
DAYS = 7

# Bar charts, in SVG user units.
CHART_HEIGHT = 32
HOUR_BAR, HOUR_GAP = 9, 2
DAY_BAR, DAY_GAP = 26, 4


@dataclass(frozen=True)
class Series:
    key: str
    label: str
    event: str
    note: str = ""


SERIES = (
    Series("logins_succeeded", "Logins succeeded", Event.LOGIN_SUCCEEDED),
    Series("logins_failed", "Logins failed", Event.LOGIN_FAILED),
    Series("lockouts", "Lockouts", Event.LOCKED_OUT),
    Series("token_reuse", "Refresh-token reuse", Event.TOKEN_REUSED),
    Series("ratelimited", "Rate limited", Event.RATELIMIT_EXCEEDED, "one event per client and window"),
    Series("new_api_keys", "New API keys", Event.APIKEY_CREATED),
)


def _changelist_url(event: str, since: datetime, until: datetime | None = None) -> str:
    """The audit log's changelist filtered by event and time range (its own list filters)."""
    params = {"event__exact": event, "timestamp__gte": since.isoformat()}
    if until is not None:
        params["timestamp__lt"] = until.isoformat()
    return f"{reverse('admin:audit_auditevent_changelist')}?{urlencode(params)}"


def _bars(
    counts: list[int], starts: list[datetime], *, width: int, gap: int, event: str, step, label_of
) -> dict:
    """Geometry of one bar chart: each bar with its height, link and tooltip."""
    peak = max(counts) or 1
    bars = []
    for index, (count, start) in enumerate(zip(counts, starts, strict=True)):
        height = round(count / peak * (CHART_HEIGHT - 2)) if count else 0
        if count and height < 2:
            height = 2  # a single event stays visible next to a big peak
        bars.append(
            {
                "x": index * (width + gap),
                "y": CHART_HEIGHT - height,
                "width": width,
                "height": height,
                "count": count,
                "title": f"{label_of(start)}: {count}",
                "url": _changelist_url(event, start, start + step),
            }
        )
    return {
        "bars": bars,
        "width": len(counts) * (width + gap) - gap,
        "height": CHART_HEIGHT,
        "peak": max(counts),
    }


def security_overview_compute(*, now: datetime | None = None) -> dict:
    """Counts and chart geometry per series for the last 24 hours (hourly) and 7 days (daily), UTC."""
    now = now or timezone.now()
    this_hour = now.replace(minute=0, second=0, microsecond=0)
    hours = [this_hour - timedelta(hours=HOURS - 1 - i) for i in range(HOURS)]
    today = this_hour.replace(hour=0)
    days = [today - timedelta(days=DAYS - 1 - i) for i in range(DAYS)]

    rows = (
        AuditEvent.objects.filter(event__in=[s.event for s in SERIES], timestamp__gte=days[0])
        .annotate(hour=TruncHour("timestamp"))
        .order_by()
        .values_list("event", "hour")
        .annotate(n=Count("*"))
    )
    hour_index = {start: i for i, start in enumerate(hours)}
    day_index = {start.date(): i for i, start in enumerate(days)}
    hourly = {s.event: [0] * HOURS for s in SERIES}
    daily = {s.event: [0] * DAYS for s in SERIES}
    for event, hour, n in rows:
        if hour in hour_index:
            hourly[event][hour_index[hour]] += n
        if hour.date() in day_index:
            daily[event][day_index[hour.date()]] += n

    series = []
    for s in SERIES:
        series.append(
            {
                "key": s.key,
                "label": s.label,
                "note": s.note,
                "day_total": sum(hourly[s.event]),
                "day_url": _changelist_url(s.event, hours[0]),
                "day_chart": _bars(
                    hourly[s.event],
                    hours,
                    width=HOUR_BAR,
                    gap=HOUR_GAP,
                    event=s.event,
                    step=timedelta(hours=1),
                    label_of=lambda start: f"{start:%a %H:00}–{start + timedelta(hours=1):%H:00} UTC",
                ),
                "week_total": sum(daily[s.event]),
                "week_url": _changelist_url(s.event, days[0]),
                "week_chart": _bars(
                    daily[s.event],
                    days,
                    width=DAY_BAR,
                    gap=DAY_GAP,
                    event=s.event,
                    step=timedelta(days=1),
                    label_of=lambda start: f"{start:%a %d %b} UTC",
                ),
            }
        )
    return {
        "series": series,
        "generated_at": now,
        "day_since": hours[0],
        "week_since": days[0],
        "cache_seconds": CACHE_SECONDS,
    }


def security_overview() -> dict:
    """The overview, computed at most once a minute (the cache is shared by every process)."""
    overview = cache.get(CACHE_KEY)
    if overview is None:
        overview = security_overview_compute()
        cache.set(CACHE_KEY, overview, CACHE_SECONDS)
    return overview
