"""Fill Gatehouse's database for the refresh scale check (`./bench/run --seed-*`).

  python bench/seed_tokens.py TOKENS [--sessions N] [--audit-events N] [--users N]

TOKENS expired refresh-token records, each blacklisted (the tokens sessions rotated away from);
with --sessions, N sessions over --users accounts (mostly expired or revoked, 5 % live, a few
accounts with thousands each), each with its current token's record; with --audit-events, N
valid chained audit events over those accounts (COPY, AUDIT_CHAINS chains; the log is emptied
first). Set-based SQL and COPY: the issue's scale (1M sessions, 5M events) takes minutes.
Needs Gatehouse's DJANGO_SETTINGS_MODULE and DATABASE_URL (PostgreSQL) in the environment.
"""

import argparse
import contextlib
import os
import sys
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

import django  # noqa: E402

django.setup()

import scale_seed  # noqa: E402


def seed(count: int, *, sessions: int = 0, audit_events: int = 0, users: int = 0) -> None:
    """`count` blacklisted token records (ownerless unless accounts are seeded too), then sessions
    and audit events over `users` seeded accounts (a fifth of the sessions when not given)."""
    tables = ["token_blacklist_outstandingtoken", "token_blacklist_blacklistedtoken"]
    accounts: list[tuple[int, str]] = []
    if sessions or audit_events:
        accounts = scale_seed.seed_users(users or max(sessions // 5, 1000), prefix="scaleuser")
        tables.append("accounts_user")
    if sessions:
        scale_seed.seed_sessions(sessions, accounts)
        tables.append("accounts_session")
    if count:
        scale_seed.seed_tokens(count, accounts)
    if audit_events:
        # 90 days of history: as many events as a busy deployment keeps.
        scale_seed.seed_chained(audit_events, accounts, span=timedelta(days=90))
        tables += ["audit_auditevent", "audit_auditchainhead"]
    scale_seed.settle(tables)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tokens", type=int, help="expired, blacklisted refresh-token records")
    parser.add_argument("--sessions", type=int, default=0)
    parser.add_argument("--audit-events", type=int, default=0)
    parser.add_argument("--users", type=int, default=0, help="accounts (default: sessions / 5)")
    args = parser.parse_args()
    with contextlib.redirect_stderr(sys.stdout):  # progress lines on stdout, for bench.py's log
        seed(args.tokens, sessions=args.sessions, audit_events=args.audit_events, users=args.users)
    return 0


if __name__ == "__main__":
    sys.exit(main())
