"""Seeders for the scale benchmarks: users, sessions, refresh-token records and chained audit events.

Shared by bench/seed_tokens.py (`./bench/run --seed-*`), bench/admin_pages.py
(`./bench/admin-pages`), bench/audit_scale.py (`./bench/audit-scale --seed`) and
bench/cleanup_scale.py. Import it after `django.setup()`; everything runs on the default
connection, which must be PostgreSQL. Users, sessions and token rows are written with
set-based SQL (`INSERT ... SELECT ... FROM generate_series`); audit events with COPY, their
hashes computed here so `audit_verify` accepts the log. A million of each takes seconds to a
minute; 5,000,000 audit events a few minutes (the hashing is Python).
"""

import json
import random
import sys
import time
from collections.abc import Sequence
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from audit.models import Event
from audit.services import (
    GENESIS_HASH,
    HASH_VERSION,
    canonical_json,
    chain_for,
    event_hash,
    stored_event_hash,
)

EVENTS = [Event.LOGIN_SUCCEEDED, Event.TOKEN_REFRESHED, Event.LOGOUT, Event.LOGIN_FAILED]
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) bench/audit-scale"
# One session in HEAVY_EVERY belongs to one of HEAVY_USERS accounts (the first users seeded):
# kiosks and scripts that log in all day, each with thousands of sessions.
HEAVY_EVERY, HEAVY_USERS = 100, 5


def say(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def username_of(n: int, prefix: str = "user") -> str:
    """The n-th seeded user's name (1-based): user0000001 ..."""
    return f"{prefix}{n:07d}"


def seed_users(count: int, *, prefix: str = "user") -> list[tuple[int, str]]:
    """`count` users named prefix0000001...: mixed roles, one in 50 inactive, joined a minute
    apart. Set-based; users already there are kept. Returns (id, username) in seeding order."""
    pattern = f"^{prefix}[0-9]{{7}}$"
    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 0")
        cursor.execute("SELECT count(*) FROM accounts_user WHERE username ~ %s", [pattern])
        have = cursor.fetchone()[0]
        if have < count:
            start = time.monotonic()
            cursor.execute(
                """
                INSERT INTO accounts_user (password, last_login, username, email, full_name, role, is_active,
                    date_joined, mfa_enabled, email_verified)
                SELECT '!', NULL, %s || lpad(g::text, 7, '0'), %s || g || '@example.com', 'User ' || g,
                       (ARRAY['user','user','user','developer','guest','service_account'])[1 + g %% 6],
                       g %% 50 <> 0, now() - (g || ' minutes')::interval, false, true
                FROM generate_series(%s, %s) AS g
                """,
                [prefix, prefix, have + 1, count],
            )
            cursor.execute("ANALYZE accounts_user")
            say(f"seeded {count - have} users in {time.monotonic() - start:.1f}s")
        cursor.execute(
            "SELECT id, username FROM accounts_user WHERE username ~ %s ORDER BY username LIMIT %s",
            [pattern, count],
        )
        return [(row[0], row[1]) for row in cursor.fetchall()]


def seed_sessions(count: int, users: Sequence[tuple[int, str]]) -> None:
    """`count` sessions over `users`, as a busy deployment accumulates them: about 80 % expired,
    15 % revoked (logout, password change, staff...), 5 % live; one in HEAVY_EVERY belongs to
    one of the first HEAVY_USERS users. Each has its current refresh token's record (blacklisted
    when the session was revoked). Set-based; run once on a database without seeded sessions."""
    if count <= 0:
        return
    start = time.monotonic()
    ids = [uid for uid, _ in users]
    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 0")
        cursor.execute("DROP TABLE IF EXISTS bench_seed_users")
        cursor.execute("CREATE TEMP TABLE bench_seed_users (n integer PRIMARY KEY, id bigint NOT NULL)")
        with cursor.cursor.copy("COPY bench_seed_users (n, id) FROM STDIN") as copy:
            for n, uid in enumerate(ids):
                copy.write_row((n, uid))
        # s: the session's state (0 live, 1-3 revoked, else expired); age: seconds since login.
        cursor.execute(
            """
            CREATE TEMP TABLE bench_seed_sessions AS
            SELECT g,
                   md5('bench-session' || g)::uuid AS id,
                   u.id AS user_id,
                   md5('bench-jti' || g) AS jti,
                   g %% 20 AS s,
                   CASE WHEN g %% 20 = 0 THEN (g * 7) %% 600000            -- live: logged in this week
                        WHEN g %% 20 <= 3 THEN (g * 13) %% 7776000          -- revoked: in 90 days
                        ELSE 691200 + (g * 17) %% 7084800 END AS age         -- expired: 8-90 days ago
            FROM generate_series(1::bigint, %s::bigint) AS g
            JOIN bench_seed_users u ON u.n = CASE WHEN g %% %s = 0 THEN (g / %s) %% %s
                                                 ELSE (g * 7919) %% %s END
            """,
            [count, HEAVY_EVERY, HEAVY_EVERY, min(HEAVY_USERS, len(ids)), len(ids)],
        )
        cursor.execute(
            """
            INSERT INTO accounts_session (id, user_id, refresh_jti, remember_me, created_at, last_used_at,
                expires_at, absolute_expires_at, revoked_at, revoked_reason, ip_address, user_agent, amr)
            SELECT id, user_id, jti, g %% 7 = 0, now() - age * interval '1 second',
                   now() - age * interval '1 second' + interval '10 minutes',
                   CASE WHEN s = 0 THEN now() + interval '1 day' + (g %% 86400) * interval '1 second'
                        ELSE now() - age * interval '1 second' + interval '1 day' END,
                   now() - age * interval '1 second' + interval '30 days',
                   CASE WHEN s BETWEEN 1 AND 3 THEN now() - age * interval '1 second' + interval '1 hour' END,
                   CASE WHEN s BETWEEN 1 AND 3
                        THEN (ARRAY['logout','user','password_change','admin','token_reuse'])[1 + g %% 5]
                        ELSE '' END,
                   ('10.' || (g %% 250) || '.' || ((g / 250) %% 250) || '.' || (1 + g %% 249))::inet,
                   'Mozilla/5.0 (X11; Linux x86_64) bench/' || (g %% 40), 'pwd'
            FROM bench_seed_sessions
            """,
            [],
        )
        cursor.execute("SELECT coalesce(max(id), 0) FROM token_blacklist_outstandingtoken")
        base = cursor.fetchone()[0]
        cursor.execute(
            """
            INSERT INTO token_blacklist_outstandingtoken (id, user_id, jti, token, created_at, expires_at)
            SELECT %s + g, user_id, jti, 'sha256:' || md5('bench-token' || g),
                   now() - age * interval '1 second' + interval '10 minutes',
                   CASE WHEN s = 0 THEN now() + interval '1 day' + (g %% 86400) * interval '1 second'
                        ELSE now() - age * interval '1 second' + interval '1 day' END
            FROM bench_seed_sessions
            """,
            [base],
        )
        cursor.execute(
            """
            INSERT INTO token_blacklist_blacklistedtoken (token_id, blacklisted_at)
            SELECT %s + g, now() - age * interval '1 second' + interval '1 hour'
            FROM bench_seed_sessions WHERE s BETWEEN 1 AND 3
            """,
            [base],
        )
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('token_blacklist_outstandingtoken', 'id'), "
            "(SELECT max(id) FROM token_blacklist_outstandingtoken))"
        )
        cursor.execute("DROP TABLE bench_seed_sessions")
        cursor.execute("DROP TABLE bench_seed_users")
    say(f"seeded {count} sessions over {len(ids)} users in {time.monotonic() - start:.1f}s")


def seed_tokens(count: int, users: Sequence[tuple[int, str]] = (), chunk: int = 250_000) -> None:
    """`count` expired refresh-token records, each blacklisted: the tokens sessions rotated away
    from. They belong to `users` when given (else to no user)."""
    start = time.monotonic()
    ids = [uid for uid, _ in users]
    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 0")
        if ids:
            cursor.execute("DROP TABLE IF EXISTS bench_seed_users")
            cursor.execute("CREATE TEMP TABLE bench_seed_users (n integer PRIMARY KEY, id bigint NOT NULL)")
            with cursor.cursor.copy("COPY bench_seed_users (n, id) FROM STDIN") as copy:
                for n, uid in enumerate(ids):
                    copy.write_row((n, uid))
        cursor.execute("SELECT coalesce(max(id), 0) FROM token_blacklist_outstandingtoken")
        base = cursor.fetchone()[0]
        owner = "(SELECT id FROM bench_seed_users WHERE n = (g::bigint * 7919) %% %s)" if ids else "NULL"
        for first in range(1, count + 1, chunk):
            last = min(count, first + chunk - 1)
            cursor.execute(
                f"""
                INSERT INTO token_blacklist_outstandingtoken (id, user_id, jti, token, created_at, expires_at)
                SELECT %s + g, {owner}, md5('seed' || g), 'sha256:' || md5(g::text), now() - interval '40 days',
                       now() - interval '1 day' - (g || ' seconds')::interval
                FROM generate_series(%s, %s) AS g
                """,  # noqa: S608 - a fixed fragment, no input
                [base, *([len(ids)] if ids else []), first, last],
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
        if ids:
            cursor.execute("DROP TABLE bench_seed_users")
    say(f"seeded {count} outstanding + {count} blacklisted tokens in {time.monotonic() - start:.1f}s")


def settle(tables: Sequence[str]) -> None:
    """VACUUM ANALYZE the seeded tables and CHECKPOINT: no autovacuum or checkpoint of the fresh
    rows runs under the measurement that follows."""
    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 0")
        for table in tables:
            cursor.execute(f"VACUUM (ANALYZE) {connection.ops.quote_name(table)}")
        cursor.execute("CHECKPOINT")


def empty_log() -> None:
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE audit_auditevent, audit_auditchainhead RESTART IDENTITY")


class _Target:
    """What chain_for reads of an event: the target's id (the seeded events all have one)."""

    __slots__ = ("target_ref",)
    target_label = actor_label = request_id = ""
    actor_ref = None

    def __init__(self, target_ref: int) -> None:
        self.target_ref = target_ref


def seed_chained(
    count: int,
    users: Sequence[tuple[int, str]],
    chains: int | None = None,
    *,
    span: timedelta | None = None,
) -> None:
    """EMPTY the audit log, then COPY `count` valid chained events spread over `chains` chains
    (AUDIT_CHAINS by default), and their heads. Each event's actor and target is a random one of
    `users`; the events are evenly spaced over `span` up to now (10 ms apart by default)."""
    chains = chains or settings.AUDIT_CHAINS
    empty_log()
    rng = random.Random(7)
    chain_of_user: dict[int, int] = {}
    heads = {c: (0, GENESIS_HASH) for c in range(chains)}
    step = span / max(count, 1) if span is not None else timedelta(milliseconds=10)
    start = timezone.now() - step * count
    columns = (
        "chain, seq, hash_version, timestamp, event, outcome, actor_id, actor_ref, actor_kind, actor_label, "
        "target_user_id, target_ref, target_label, ip_address, user_agent, request_id, details, prev_hash, hash"
    )
    written = 0
    began = time.monotonic()
    raw = connection.cursor().cursor  # psycopg's own cursor, for COPY
    # Secondary indexes are rebuilt after the load (faster than maintaining them row by row); the
    # primary key and the (chain, seq) unique index stay.
    raw.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'audit_auditevent' "
        "AND indexname NOT IN ('audit_auditevent_pkey', 'audit_chain_seq_uniq')"
    )
    secondary = raw.fetchall()
    raw.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
    superuser = raw.fetchone()[0]
    with transaction.atomic():
        raw.execute("SET LOCAL statement_timeout = 0")
        if superuser:
            # No per-row foreign-key triggers: the target users exist (the caller seeded them).
            raw.execute("SET LOCAL session_replication_role = replica")
        for name, _ in secondary:
            raw.execute(f"DROP INDEX {connection.ops.quote_name(name)}")
        with raw.copy(f"COPY audit_auditevent ({columns}) FROM STDIN") as copy:
            for i in range(count):
                uid, username = users[rng.randrange(len(users))]
                chain = chain_of_user.get(uid)
                if chain is None:
                    chain = chain_of_user[uid] = chain_for(event=_Target(uid), chains=chains)  # type: ignore[arg-type]
                seq, prev = heads[chain]
                seq += 1
                event = EVENTS[i % 4]
                outcome = "failure" if event == Event.LOGIN_FAILED else "success"
                when = start + step * i
                ip = f"10.{i % 250}.{(i // 250) % 250}.{1 + i % 249}"
                request_id = f"{i:016x}"
                details = {"remember_me": False} if i % 3 else {}
                if i % 1000 == 0:  # the writer's own formula, now and then
                    fields = {
                        "event": str(event),
                        "outcome": outcome,
                        "actor_id": uid,
                        "actor_kind": "user",
                        "actor_label": username,
                        "target_user_id": uid,
                        "target_label": username,
                        "ip_address": ip,
                        "user_agent": USER_AGENT,
                        "request_id": request_id,
                        "details": details,
                    }
                    digest = event_hash(prev_hash=prev, chain=chain, seq=seq, timestamp=when, fields=fields)
                else:  # its byte-exact fast twin (audit/tests/test_chains.py pins the two together)
                    digest = stored_event_hash(
                        prev, chain, seq, HASH_VERSION, when.isoformat(), canonical_json(details),
                        uid, "user", username, str(event), ip, outcome, request_id, username, uid, USER_AGENT,
                    )  # fmt: skip
                copy.write_row(
                    (
                        chain, seq, HASH_VERSION, when, str(event), outcome, uid, uid, "user", username,
                        uid, uid, username, ip, USER_AGENT, request_id, json.dumps(details), prev, digest,
                    )
                )  # fmt: skip
                heads[chain] = (seq, digest)
                written += 1
                if written % 500000 == 0:
                    say(f"  seeded {written} events ({written / (time.monotonic() - began):.0f}/s)")
        for chain, (seq, digest) in heads.items():
            raw.execute(
                "INSERT INTO audit_auditchainhead (id, last_seq, last_hash, anchor_seq, anchor_hash) "
                "VALUES (%s, %s, %s, 0, %s)",
                [chain, seq, digest, GENESIS_HASH],
            )
    say(f"  copied {written} events in {time.monotonic() - began:.0f}s; rebuilding indexes")
    with transaction.atomic():
        raw.execute("SET LOCAL statement_timeout = 0")
        raw.execute("SET LOCAL maintenance_work_mem = '256MB'")
        for _, definition in secondary:
            raw.execute(definition)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE audit_auditevent")
    say(f"seeded {count} chained events in {chains} chains in {time.monotonic() - began:.0f}s")


__all__ = [
    "empty_log",
    "seed_chained",
    "seed_sessions",
    "seed_tokens",
    "seed_users",
    "settle",
    "username_of",
]
