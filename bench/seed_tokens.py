"""Seed N expired refresh-token records, each blacklisted, straight into Gatehouse's database.

The scale check: refresh throughput with a million rows in the outstanding-token and
blacklist tables should match an empty database (indexes carry it), and `auth_cleanup`
should remove them in short batches. Usage: python bench/seed_tokens.py N
(with Gatehouse's DJANGO_SETTINGS_MODULE and DATABASE_URL in the environment).
"""

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402


def seed(count: int, chunk: int = 250_000) -> None:
    start = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 0")
        cursor.execute("SELECT coalesce(max(id), 0) FROM token_blacklist_outstandingtoken")
        base = cursor.fetchone()[0]
        for first in range(1, count + 1, chunk):
            last = min(count, first + chunk - 1)
            cursor.execute(
                """
                INSERT INTO token_blacklist_outstandingtoken (id, user_id, jti, token, created_at, expires_at)
                SELECT %s + g, NULL, md5('seed' || g), 'sha256:' || md5(g::text), now() - interval '40 days',
                       now() - interval '1 day' - (g || ' seconds')::interval
                FROM generate_series(%s, %s) AS g
                """,
                [base, first, last],
            )
            cursor.execute(
                """
                INSERT INTO token_blacklist_blacklistedtoken (token_id, blacklisted_at)
                SELECT %s + g, now() - interval '39 days' FROM generate_series(%s, %s) AS g
                """,
                [base, first, last],
            )
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('token_blacklist_outstandingtoken', 'id'), "
            "(SELECT max(id) FROM token_blacklist_outstandingtoken))"
        )
        # Let PostgreSQL settle before anything is measured: no autovacuum or checkpoint of these
        # two million fresh rows running under the benchmark.
        cursor.execute("VACUUM (ANALYZE) token_blacklist_outstandingtoken")
        cursor.execute("VACUUM (ANALYZE) token_blacklist_blacklistedtoken")
        cursor.execute("CHECKPOINT")
    print(
        f"seeded {count} outstanding + {count} blacklisted tokens in {time.monotonic() - start:.1f}s",
        file=sys.stderr,
    )


if __name__ == "__main__":
    seed(int(sys.argv[1]))
