"""auth_cleanup on a million expired rows: how long does each batch hold its locks?

Seeds N expired, blacklisted refresh-token records (bench/seed_tokens.py), then runs the same
service as `manage.py auth_cleanup`, timing every batch transaction (its statements and the
commit: an upper bound on how long any lock is held). Usage, with services running:
python bench/cleanup_scale.py [N]   (./bench/scale runs it with throwaway servers)
"""

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

import django  # noqa: E402

django.setup()

import seed_tokens  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import transaction  # noqa: E402

from accounts.services import housekeeping  # noqa: E402


def main() -> int:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    call_command("migrate", verbosity=0)
    seed_tokens.seed(count)

    batch_times: list[float] = []
    real_atomic = transaction.atomic

    depth = [0]

    class TimedAtomic:
        """Times each outermost transaction, from BEGIN to COMMIT (nested blocks are inside it)."""

        def __init__(self, *args, **kwargs):
            self.inner = real_atomic(*args, **kwargs)

        def __enter__(self):
            depth[0] += 1
            self.start = time.perf_counter()
            return self.inner.__enter__()

        def __exit__(self, *exc):
            result = self.inner.__exit__(*exc)
            depth[0] -= 1
            if depth[0] == 0:
                batch_times.append(time.perf_counter() - self.start)
            return result

    housekeeping.transaction.atomic = TimedAtomic
    start = time.monotonic()
    try:
        counts = housekeeping.auth_cleanup(batch_size=5000)
    finally:
        housekeeping.transaction.atomic = real_atomic
    total = time.monotonic() - start
    batches = batch_times[:-1]  # the last is the audit event's own transaction
    print(f"\nauth_cleanup of {count:,} expired refresh-token records (+ their blacklist rows)")
    print(f"removed: {counts}")
    print(f"total {total:.1f}s in {len(batches)} batch transactions")
    print(
        f"per batch: median {statistics.median(batches) * 1000:.0f} ms, "
        f"p99 {sorted(batches)[int(len(batches) * 0.99) - 1] * 1000:.0f} ms, "
        f"max {max(batches) * 1000:.0f} ms"
    )
    limit = 1.0
    verdict = "PASS" if max(batches) < limit else "MISS"
    print(f"{verdict}  no batch transaction (so no statement) held locks for {limit:.0f}s or more")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
