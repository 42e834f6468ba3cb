"""Time the Django admin's pages on a big database: 1M users, 1M sessions and 5M audit events.

Run with ./bench/admin-pages (it starts throwaway PostgreSQL and Redis), or against a database
of your own: DATABASE_URL=... python bench/admin_pages.py [--users N] [--events N] [--sessions N].
It seeds with set-based SQL and COPY (bench/scale_seed.py: valid chained events, a few minutes
for 5M), then requests each page a few times as a logged-in admin and prints the median time
and the number of SQL queries per page; a page over --budget-ms (300) is marked SLOW and makes
the exit status 1. `--lock FILE` holds an flock on FILE while timing (not while seeding).
"""

import argparse
import fcntl
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

import django  # noqa: E402

django.setup()

import scale_seed  # noqa: E402
from django.core.cache import cache  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.models import Role, Session, User  # noqa: E402
from accounts.services.users import user_create  # noqa: E402
from accounts.tests.helpers import mfa_enrol, staff_login  # noqa: E402
from audit.overview import CACHE_KEY as OVERVIEW_CACHE_KEY  # noqa: E402

PAGES = [
    ("admin index (overview computed)", "/admin/"),
    ("admin index (overview cached)", "/admin/"),
    ("users: list", "/admin/accounts/user/"),
    ("users: search", "/admin/accounts/user/?q=user0000042"),
    ("users: search email", "/admin/accounts/user/?q=user42%40example.com"),
    ("users: filter role", "/admin/accounts/user/?role__exact=developer"),
    ("users: filter rare role", "/admin/accounts/user/?role__exact=admin"),
    ("users: filter inactive", "/admin/accounts/user/?is_active__exact=0"),
    ("users: filter locked", "/admin/accounts/user/?locked=yes"),
    ("users: filter not locked", "/admin/accounts/user/?locked=no"),
    ("users: page 500", "/admin/accounts/user/?p=500"),
    ("user: change page", "/admin/accounts/user/{user_id}/change/"),
    ("user: change, 2k sessions", "/admin/accounts/user/{heavy_user_id}/change/"),
    ("audit: list", "/admin/audit/auditevent/"),
    ("audit: filter event", "/admin/audit/auditevent/?event__exact=auth.login_failed"),
    ("audit: filter rare event", "/admin/audit/auditevent/?event__exact=jwt_key.retired"),
    ("audit: filter outcome", "/admin/audit/auditevent/?outcome__exact=failure"),
    ("audit: filter actor kind", "/admin/audit/auditevent/?actor_kind__exact=operator"),
    ("audit: filter past 7 days", "/admin/audit/auditevent/?timestamp__gte={week_ago}"),
    (
        "audit: overview link",
        "/admin/audit/auditevent/?event__exact=auth.login_failed&timestamp__gte={week_ago}",
    ),
    ("audit: search user", "/admin/audit/auditevent/?q=user0000042"),
    ("audit: search ip", "/admin/audit/auditevent/?q=10.3.7.8"),
    ("audit: page 1000", "/admin/audit/auditevent/?p=1000"),
    ("audit: one event", "/admin/audit/auditevent/{event_id}/change/"),
    ("sessions: list", "/admin/accounts/session/"),
    ("sessions: search user", "/admin/accounts/session/?q=user0000042"),
    ("sessions: filter reason", "/admin/accounts/session/?revoked_reason__exact=logout"),
    ("sessions: filter rare reason", "/admin/accounts/session/?revoked_reason__exact=blacklisted"),
    ("sessions: filter remember", "/admin/accounts/session/?remember_me__exact=1"),
    ("sessions: page 1000", "/admin/accounts/session/?p=1000"),
    ("session: one", "/admin/accounts/session/{session_id}/change/"),
    ("api keys: list", "/admin/apikeys/apikey/"),
    ("blacklisted tokens: list", "/admin/token_blacklist/blacklistedtoken/"),
    ("outstanding tokens: list", "/admin/token_blacklist/outstandingtoken/"),
]


def seed(users: int, events: int, sessions: int) -> None:
    """Set-based inserts and COPY straight into PostgreSQL; kept between runs of the same size."""
    accounts = scale_seed.seed_users(users)
    tables = ["accounts_user"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM accounts_session")
        have_sessions = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM audit_auditevent")
        have_events = cursor.fetchone()[0]
    if have_sessions < sessions:
        scale_seed.seed_sessions(sessions - have_sessions, accounts)
        tables += ["accounts_session", "token_blacklist_outstandingtoken", "token_blacklist_blacklistedtoken"]
    if have_events < events:
        # 90 days of history (the 7-day overview reads about a thirteenth of it).
        scale_seed.seed_chained(events, accounts, span=timedelta(days=90))
        tables += ["audit_auditevent", "audit_auditchainhead"]
    scale_seed.settle(tables)


def time_pages(repeats: int) -> list[tuple[str, float, int, int]]:
    admin = User.objects.filter(username="bench-admin").first() or user_create(
        username="bench-admin", email="bench-admin@example.com", password=None, role=Role.ADMIN
    )
    if not admin.mfa_enabled:
        mfa_enrol(admin)  # admins must use a second factor (MFA_REQUIRED_FOR_ROLES)
    client = Client(HTTP_HOST="localhost")
    staff_login(client, admin)  # a cookie session that has proved both factors
    user_id = User.objects.filter(username="user0000042").values_list("pk", flat=True).first() or admin.pk
    heavy_user_id = (
        User.objects.filter(username=scale_seed.username_of(1)).values_list("pk", flat=True).first()
        or admin.pk
    )
    session_id = Session.objects.filter(user_id=user_id).values_list("pk", flat=True).first()
    week_ago = quote((timezone.now() - timedelta(days=7)).replace(microsecond=0).isoformat())
    with connection.cursor() as cursor:
        cursor.execute("SELECT max(id) FROM audit_auditevent")
        event_id = cursor.fetchone()[0]
    rows = []
    for name, path in PAGES:
        url = path.format(
            user_id=user_id,
            heavy_user_id=heavy_user_id,
            event_id=event_id,
            session_id=session_id,
            week_ago=week_ago,
        )
        timings, queries, status = [], 0, 0
        for _ in range(repeats):
            if "computed" in name:
                cache.delete(OVERVIEW_CACHE_KEY)  # the minute-long cache would hide the query
            with CaptureQueriesContext(connection) as captured:
                start = time.perf_counter()
                response = client.get(url)
                timings.append((time.perf_counter() - start) * 1000)
            queries, status = len(captured), response.status_code
        rows.append((name, statistics.median(timings), queries, status))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--sessions", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--budget-ms", type=float, default=300.0, help="a page slower than this is marked SLOW (300)"
    )
    parser.add_argument(
        "--lock",
        default=os.environ.get("BENCH_LOCK", ""),
        help="hold an exclusive flock on this file while timing only (not while seeding)",
    )
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        print("error: point DATABASE_URL at PostgreSQL (the seeding uses its SQL)", file=sys.stderr)
        return 1
    call_command("migrate", verbosity=0)
    seed(args.users, args.events, args.sessions)
    with open(args.lock or os.devnull, "a") as lock:
        if args.lock:
            print(f"waiting for the measurement lock {args.lock}", file=sys.stderr)
            fcntl.flock(lock, fcntl.LOCK_EX)
        load = os.getloadavg()
        rows = time_pages(args.repeats)
    print(
        f"\nDjango admin on {args.users:,} users, {args.sessions:,} sessions and {args.events:,} audit events "
        f"(median of {args.repeats}; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} before timing)"
    )
    print(f"{'page':<32} {'ms':>8} {'queries':>8} {'status':>7}")
    slow = 0
    for name, ms, queries, status in rows:
        flag = "" if ms <= args.budget_ms and status == 200 else "  SLOW" if status == 200 else "  ERROR"
        slow += bool(flag)
        print(f"{name:<32} {ms:>8.1f} {queries:>8} {status:>7}{flag}")
    return 1 if slow else 0


if __name__ == "__main__":
    sys.exit(main())
