"""Time the Django admin's pages on a big database: 100k users and 1M audit events.

Run with ./bench/admin-pages (it starts throwaway PostgreSQL and Redis), or against a
database of your own: DATABASE_URL=... python bench/admin_pages.py [--users N] [--events N].
It seeds with set-based SQL (seconds, not minutes), then requests each page a few times as a
logged-in admin and prints the median time and the number of SQL queries per page.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from accounts.models import Role, User  # noqa: E402
from accounts.services.users import user_create  # noqa: E402

PAGES = [
    ("admin index (security overview)", "/admin/"),
    ("users: list", "/admin/accounts/user/"),
    ("users: search", "/admin/accounts/user/?q=user0042"),
    ("users: filter role", "/admin/accounts/user/?role__exact=developer"),
    ("users: filter locked", "/admin/accounts/user/?locked=yes"),
    ("users: page 500", "/admin/accounts/user/?p=500"),
    ("user: change page", "/admin/accounts/user/{user_id}/change/"),
    ("audit: list", "/admin/audit/auditevent/"),
    ("audit: filter event", "/admin/audit/auditevent/?event__exact=auth.login_failed"),
    ("audit: filter outcome", "/admin/audit/auditevent/?outcome__exact=failure"),
    ("audit: search user", "/admin/audit/auditevent/?q=user0042"),
    ("audit: search ip", "/admin/audit/auditevent/?q=10.0.3.7"),
    ("audit: page 1000", "/admin/audit/auditevent/?p=1000"),
    ("audit: one event", "/admin/audit/auditevent/{event_id}/change/"),
    ("sessions: list", "/admin/accounts/session/"),
    ("api keys: list", "/admin/apikeys/apikey/"),
]


def seed(users: int, events: int) -> None:
    """Set-based inserts straight into PostgreSQL; a benchmark database, not a verifiable log."""
    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 0")  # seeding is one long statement by design
        cursor.execute("SELECT count(*) FROM accounts_user")
        have_users = cursor.fetchone()[0]
        if have_users < users:
            start = time.monotonic()
            cursor.execute(
                """
                INSERT INTO accounts_user (password, last_login, username, email, full_name, role, is_active, date_joined)
                SELECT '!', NULL, 'user' || lpad(g::text, 6, '0'), 'user' || g || '@example.com', 'User ' || g,
                       (ARRAY['user','user','user','developer','guest','service_account'])[1 + g %% 6],
                       g %% 50 <> 0, now() - (g || ' minutes')::interval
                FROM generate_series(%s, %s) AS g
                """,
                [have_users + 1, users],
            )
            print(f"seeded {users - have_users} users in {time.monotonic() - start:.1f}s", file=sys.stderr)
        cursor.execute("SELECT count(*) FROM audit_auditevent")
        have_events = cursor.fetchone()[0]
        if have_events < events:
            start = time.monotonic()
            cursor.execute(
                """
                INSERT INTO audit_auditevent (chain, seq, hash_version, timestamp, event, outcome, actor_id,
                    actor_kind, actor_label, target_user_id, target_label, ip_address, user_agent, request_id,
                    details, prev_hash, hash)
                SELECT 0, g, 2, now() - ((%s - g) || ' seconds')::interval,
                       (ARRAY['auth.login_succeeded','auth.login_failed','token.refreshed','auth.logout'])[1 + g %% 4],
                       CASE WHEN g %% 4 = 1 THEN 'failure' ELSE 'success' END,
                       NULL, 'user', 'user' || lpad((1 + g %% %s)::text, 6, '0'),
                       NULL, 'user' || lpad((1 + g %% %s)::text, 6, '0'),
                       ('10.0.' || (g %% 250) || '.' || (g %% 200))::inet, 'bench/1.0', md5(g::text), '{}'::jsonb,
                       md5((g - 1)::text) || md5((g - 1)::text), md5(g::text) || md5(g::text)
                FROM generate_series(%s, %s) AS g
                """,
                [events, users, users, have_events + 1, events],
            )
            cursor.execute(
                "INSERT INTO audit_auditchainhead (id, last_seq, last_hash, anchor_seq, anchor_hash) "
                "VALUES (0, %s, %s, 0, %s) ON CONFLICT (id) DO UPDATE SET last_seq = EXCLUDED.last_seq",
                [events, "0" * 64, "0" * 64],
            )
            print(
                f"seeded {events - have_events} audit events in {time.monotonic() - start:.1f}s",
                file=sys.stderr,
            )
        cursor.execute("ANALYZE accounts_user; ANALYZE audit_auditevent;")


def time_pages(repeats: int) -> list[tuple[str, float, int, int]]:
    admin = User.objects.filter(username="bench-admin").first() or user_create(
        username="bench-admin", email="bench-admin@example.com", password=None, role=Role.ADMIN
    )
    client = Client(HTTP_HOST="localhost")
    client.force_login(admin)
    user_id = User.objects.filter(username="user000042").values_list("pk", flat=True).first() or admin.pk
    with connection.cursor() as cursor:
        cursor.execute("SELECT max(id) FROM audit_auditevent")
        event_id = cursor.fetchone()[0]
    rows = []
    for name, path in PAGES:
        url = path.format(user_id=user_id, event_id=event_id)
        timings, queries, status = [], 0, 0
        for _ in range(repeats):
            with CaptureQueriesContext(connection) as captured:
                start = time.perf_counter()
                response = client.get(url)
                timings.append((time.perf_counter() - start) * 1000)
            queries, status = len(captured), response.status_code
        rows.append((name, statistics.median(timings), queries, status))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--budget-ms", type=float, default=1000.0, help="a page slower than this is marked SLOW"
    )
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        print("error: point DATABASE_URL at PostgreSQL (the seeding uses its SQL)", file=sys.stderr)
        return 1
    call_command("migrate", verbosity=0)
    seed(args.users, args.events)
    rows = time_pages(args.repeats)
    print(
        f"\nDjango admin on {args.users:,} users and {args.events:,} audit events (median of {args.repeats})"
    )
    print(f"{'page':<24} {'ms':>8} {'queries':>8} {'status':>7}")
    slow = 0
    for name, ms, queries, status in rows:
        flag = "" if ms <= args.budget_ms and status == 200 else "  SLOW" if status == 200 else "  ERROR"
        slow += bool(flag)
        print(f"{name:<24} {ms:>8.1f} {queries:>8} {status:>7}{flag}")
    return 1 if slow else 0


if __name__ == "__main__":
    sys.exit(main())
