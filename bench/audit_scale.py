"""Audit write throughput under concurrency, and audit_verify on millions of events.

Write mode (default): N concurrent writers, each with its own PostgreSQL connection, run the real
write path, `audit_record` inside `transaction.atomic()` the way a login does, with targets spread
over many users, for S seconds in each of three designs:

  chains   AUDIT_CHAINS hash chains (this code, as configured)
  single   the same code with AUDIT_CHAINS=1: every writer locks the one head (the old design)
  plain    the same rows inserted without any chain step (no head, no hash): the ceiling

`--commit-delay-ms D` runs `SELECT pg_sleep(D/1000)` inside each transaction after the audit write,
standing in for the commit latency of networked storage: the throwaway PostgreSQL of
scripts/services.sh runs with fsync=off and synchronous_commit=off, so its commits cost nothing,
and that would hide the real cost of a head lock held until commit. Every design pays the same
delay; only the chained ones hold a head lock through it.

Seed mode (`--seed N [--verify]`): COPY N valid chained events (hashes computed here, over
AUDIT_CHAINS chains) into an empty log, then time `manage.py audit_verify` in a child process
and report its wall time and maximum resident memory.

The last line of output is JSON. Run through ./bench/audit-scale (throwaway servers unless
DATABASE_URL is set).
"""

import argparse
import json
import multiprocessing
import os
import random
import resource
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, connections, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402
from scale_seed import EVENTS, USER_AGENT, empty_log, seed_chained, seed_users  # noqa: E402

from audit.models import ActorKind, AuditEvent, Event  # noqa: E402
from audit.selectors import audit_chain_verify  # noqa: E402
from audit.services import (  # noqa: E402
    audit_record,
    scrub,
)
from core.request import RequestMeta  # noqa: E402


def say(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


# --- Write throughput ------------------------------------------------------------------------


def plain_insert(*, event: str, meta: RequestMeta, target, writer: int, seq: int) -> None:
    """What audit_record writes, without the chain step: no head lock, no hash."""
    AuditEvent(
        chain=writer,  # a private (chain, seq) range per writer keeps the unique index happy
        seq=seq,
        event=event,
        outcome="failure" if event == Event.LOGIN_FAILED else "success",
        actor_id=target.pk,
        actor_ref=target.pk,
        actor_kind=ActorKind.USER,
        actor_label=target.username,
        target_user_id=target.pk,
        target_ref=target.pk,
        target_label=target.username,
        ip_address=meta.ip_address,
        user_agent=meta.user_agent,
        request_id=meta.request_id,
        details=scrub({"remember_me": False}),
        timestamp=timezone.now(),
        prev_hash="",
        hash="",
    ).save(force_insert=True)


def writer_thread(mode, writer, users, delay_s, start_at, end_at, results, lock) -> None:
    rng = random.Random(writer)
    done = errors = seq = 0
    try:
        while time.time() < start_at:
            time.sleep(0.005)
        while True:
            now = time.time()
            if now >= end_at:
                break
            user_id, username = rng.choice(users)
            target = SimpleNamespace(pk=user_id, username=username)
            event = rng.choice(EVENTS)
            meta = RequestMeta(
                ip_address=f"10.{writer % 250}.{rng.randrange(250)}.{rng.randrange(1, 250)}",
                user_agent=USER_AGENT,
                request_id=f"{writer:04x}{seq:012x}",
            )
            seq += 1
            try:
                with transaction.atomic():
                    if mode == "plain":
                        plain_insert(event=event, meta=meta, target=target, writer=writer, seq=seq)
                    else:
                        audit_record(
                            event=event,
                            meta=meta,
                            target=target,
                            actor=target,
                            outcome="failure" if event == Event.LOGIN_FAILED else "success",
                            details={"remember_me": False},
                        )
                    if delay_s:
                        with connection.cursor() as cursor:
                            cursor.execute("SELECT pg_sleep(%s)", [delay_s])
            except Exception as exc:  # noqa: BLE001 - counted and reported: a deadlock is a result
                errors += 1
                if errors <= 3:
                    say(f"writer {writer}: {type(exc).__name__}: {exc}")
                continue
            if start_at <= time.time() <= end_at:
                done += 1
    finally:
        connections.close_all()
        with lock:
            results.append((done, errors))


def writer_process(mode, chains, writers, users, delay_s, start_at, end_at, queue) -> None:
    settings.AUDIT_CHAINS = chains
    results: list[tuple[int, int]] = []
    lock = threading.Lock()
    threads = [
        threading.Thread(
            target=writer_thread, args=(mode, w, users, delay_s, start_at, end_at, results, lock)
        )
        for w in writers
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    queue.put((sum(d for d, _ in results), sum(e for _, e in results)))


def run_mode(mode: str, *, chains: int, args, users) -> dict:
    empty_log()
    connections.close_all()  # no connection crosses the fork
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    processes = min(args.processes, args.writers)
    start_at = time.time() + 1.0 + 0.2 * processes  # every writer connected and waiting
    end_at = start_at + args.seconds
    groups = [list(range(p, args.writers, processes)) for p in range(processes)]
    procs = [
        ctx.Process(
            target=writer_process,
            args=(mode, chains, group, users, args.commit_delay_ms / 1000, start_at, end_at, queue),
        )
        for group in groups
    ]
    for proc in procs:
        proc.start()
    totals = [queue.get() for _ in procs]
    for proc in procs:
        proc.join()
    events = sum(t[0] for t in totals)
    errors = sum(t[1] for t in totals)
    result = {"mode": mode, "events_per_s": round(events / args.seconds, 1), "errors": errors}
    if mode != "plain":
        report = audit_chain_verify()
        result["verified"] = report.checked if report.problem is None else f"BROKEN {report.problem}"
    return result


# --- Verify ------------------------------------------------------------------------------


def time_verify() -> tuple[float, float, str]:
    """manage.py audit_verify in a child: wall seconds, max RSS in MB, its output's first line."""
    connections.close_all()
    began = time.monotonic()
    done = subprocess.run(  # noqa: S603 - our own interpreter and manage.py
        [sys.executable, str(ROOT / "manage.py"), "audit_verify"],
        capture_output=True,
        text=True,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": os.environ["DJANGO_SETTINGS_MODULE"]},
        check=False,
    )
    seconds = time.monotonic() - began
    max_rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    first = (done.stdout or done.stderr).splitlines()[0] if (done.stdout or done.stderr) else ""
    if done.returncode != 0:
        say(done.stdout + done.stderr)
        raise SystemExit(f"audit_verify failed: {first}")
    return seconds, max_rss_mb, first


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--writers", type=int, default=32, help="concurrent writers, one connection each (32)"
    )
    parser.add_argument("--seconds", type=float, default=10, help="measured seconds per design (10)")
    parser.add_argument(
        "--commit-delay-ms",
        type=float,
        default=1.0,
        help="pg_sleep inside each transaction after the audit write, standing in for commit latency (1.0)",
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=4,
        help="writer processes; the writers are threads spread over them (4; the GIL caps one process)",
    )
    parser.add_argument("--users", type=int, default=20000, help="distinct target users (20000)")
    parser.add_argument(
        "--chains", type=int, default=settings.AUDIT_CHAINS, help="AUDIT_CHAINS for the new design"
    )
    parser.add_argument("--modes", default="chains,single,plain", help="which designs to run")
    parser.add_argument("--rounds", type=int, default=1, help="interleaved rounds; medians reported (1)")
    parser.add_argument("--seed", type=int, default=0, help="seed N chained events instead of the write test")
    parser.add_argument("--verify", action="store_true", help="with --seed: time manage.py audit_verify")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        raise SystemExit("error: this benchmark needs PostgreSQL (DATABASE_URL)")

    call_command("migrate", verbosity=0)
    users = seed_users(args.users, prefix="audituser")
    if args.seed:
        seed_chained(args.seed, users, args.chains)
        result = {"seeded": args.seed, "chains": args.chains}
        if args.verify:
            seconds, rss, first = time_verify()
            print(f"audit_verify: {first}; {seconds:.1f} s, max RSS {rss:.0f} MB")  # noqa: T201
            result.update({"verify_seconds": round(seconds, 1), "verify_max_rss_mb": round(rss)})
        print(json.dumps(result))  # noqa: T201
        return 0

    print(  # noqa: T201
        f"{args.writers} writers over {min(args.processes, args.writers)} processes, {args.seconds:g} s per design, "
        f"{len(users)} target users, commit latency modelled by pg_sleep({args.commit_delay_ms:g} ms) inside "
        "each transaction after the audit write (the throwaway server runs fsync=off, synchronous_commit=off)"
    )
    chains_by_mode = {"chains": args.chains, "single": 1, "plain": args.chains}
    labels = {"chains": f"{args.chains} chains", "single": "single head", "plain": "plain inserts"}
    runs: dict[str, list[dict]] = {}
    # Rounds interleave the designs, so a load change on a shared machine hits all of them.
    for round_number in range(1, args.rounds + 1):
        for mode in args.modes.split(","):
            result = run_mode(mode, chains=chains_by_mode[mode], args=args, users=users)
            runs.setdefault(mode, []).append(result)
            print(  # noqa: T201
                f"round {round_number} {labels[mode]:>14}: {result['events_per_s']:8.1f} events/s  "
                f"{json.dumps(result)}"
            )
    results = {
        mode: {"events_per_s": statistics.median(r["events_per_s"] for r in rs)} for mode, rs in runs.items()
    }
    if args.rounds > 1:
        for mode, result in results.items():
            print(f"median {labels[mode]:>14}: {result['events_per_s']:8.1f} events/s")  # noqa: T201
    empty_log()
    summary = {
        "writers": args.writers,
        "events_per_s": results.get("chains", {}).get("events_per_s"),
        "single_head_events_per_s": results.get("single", {}).get("events_per_s"),
        "plain_insert_events_per_s": results.get("plain", {}).get("events_per_s"),
        "chains": args.chains,
        "commit_delay_ms": args.commit_delay_ms,
    }
    if (
        summary["events_per_s"]
        and summary["single_head_events_per_s"]
        and summary["plain_insert_events_per_s"]
    ):
        print(  # noqa: T201
            f"chains / plain = {summary['events_per_s'] / summary['plain_insert_events_per_s']:.2f}, "
            f"chains / single head = {summary['events_per_s'] / summary['single_head_events_per_s']:.2f}"
        )
    print(json.dumps(summary))  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
