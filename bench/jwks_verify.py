"""The `jwks_verify` scenario: a resource server's local token check, timed in one thread.

Started by bench/bench.py with Gatehouse's Python (it needs gatehouse_client and PyJWT). Reads
one JSON object from standard input: `{"base_url", "token", "duration"}` (the token stays off
the command line). Builds a `gatehouse_client.Verifier` against the running Gatehouse (discovery
and JWKS over HTTP), warms it, then calls `verify(token)` back to back for `duration` seconds
and prints one line `BENCH_RESULT {json}` in the shape of a wrk run: verifications per second,
p50/p99 of one call in milliseconds, how many failed, and how many JWKS downloads the timed
loop made (0: the check never called Gatehouse).
"""

import json
import sys
import time

from gatehouse_client import GatehouseError, Verifier


def percentile(ordered: list[float], fraction: float) -> float:
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> int:
    config = json.loads(sys.stdin.read())
    token, duration = config["token"], float(config["duration"])
    verifier = Verifier(config["base_url"])
    verifier.warm_up()
    try:
        principal = verifier.verify(token)
    except GatehouseError as error:
        print(f"the bench token does not verify: {error.code}", file=sys.stderr)
        return 1
    if principal.verified_by != "jwks":
        print(f"the bench token was checked by {principal.verified_by}, not locally", file=sys.stderr)
        return 1
    fetches_before = verifier.jwks_fetch_count

    latencies: list[float] = []
    failures = 0
    started = time.perf_counter()
    deadline = started + duration
    now = started
    while now < deadline:
        before = now
        try:
            verifier.verify(token)
        except GatehouseError:
            failures += 1
        now = time.perf_counter()
        latencies.append(now - before)
    elapsed = now - started

    latencies.sort()
    calls = len(latencies)
    result = {
        "rps": calls / elapsed,
        "p50_ms": percentile(latencies, 0.50) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "requests": calls,
        "non2xx": failures,
        "statuses": {"valid": calls - failures, "invalid": failures},
        "socket_errors": {},
        "jwks_fetches": verifier.jwks_fetch_count - fetches_before,
    }
    print("BENCH_RESULT " + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
