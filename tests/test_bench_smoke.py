"""The benchmark harness (bench/run) in smoke mode: 1 second per run, 1 round.

It checks that the harness works end to end against the PostgreSQL and Redis that
./scripts/test started (BENCH_REUSE_SERVICES=1: its own databases on that server), and that
its table and JSON are well-formed. It asserts nothing about speed: the targets may say
PASS or MISS, and the numbers of a one-second run on a busy machine mean little.
"""

import json
import os
import subprocess

import pytest

from tests.conftest import ROOT, services_required

pytestmark = pytest.mark.live

SCENARIOS = ["baseline", "jwt_me", "apikey_me", "refresh", "login", "verify", "introspect", "jwks_verify"]
# Gatehouse only (the client's in-process check): no peer columns, no ratios.
GATEHOUSE_ONLY = {"jwks_verify"}
# The table's columns after the scenario name.
COLUMNS = [
    "gh_rps",
    "gh_p50",
    "gh_p99",
    "gh_non2xx",
    "gh_vs_baseline",
    "peer_rps",
    "peer_p50",
    "peer_p99",
    "peer_non2xx",
    "gh_vs_peer",
]


def _number(cell: str) -> float:
    try:
        return float(cell)
    except ValueError:
        pytest.fail(f"not a number in the table: {cell!r}")


def test_bench_smoke_mode_writes_a_well_formed_table_and_json(tmp_path):
    services_required()
    env = {**os.environ, "BENCH_REUSE_SERVICES": "1", "BENCH_RESULTS_DIR": str(tmp_path)}
    for name in ("BENCH_DURATION", "BENCH_ROUNDS", "BENCH_CONNECTIONS", "BENCH_THREADS", "BENCH_SCENARIOS"):
        env.pop(name, None)
    result = subprocess.run(
        [str(ROOT / "bench" / "run"), "--smoke"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        # Warm, the smoke run takes well under a minute; the first run on a new machine also
        # installs the peer's virtualenv (and wrk).
        timeout=900,
        check=False,
    )
    output = f"--- stdout\n{result.stdout[-4000:]}\n--- stderr\n{result.stderr[-4000:]}"
    assert result.returncode == 0, output

    # The table: one row per scenario, numbers in every column.
    rows = {}
    for line in result.stdout.splitlines():
        cells = line.split()
        if cells and cells[0] in SCENARIOS:
            rows[cells[0]] = cells
    assert sorted(rows) == sorted(SCENARIOS), output
    for key, cells in rows.items():
        assert len(cells) == 1 + len(COLUMNS), (key, cells, output)
        if key in GATEHOUSE_ONLY:
            row = dict(zip(COLUMNS, cells[1:], strict=True))
            no_peer = ("gh_vs_baseline", "peer_rps", "peer_p50", "peer_p99", "peer_non2xx", "gh_vs_peer")
            assert [row[c] for c in no_peer] == ["-"] * len(no_peer), (key, output)
            assert _number(row["gh_rps"]) > 0 and _number(row["gh_non2xx"]) == 0, (key, output)
            assert 0 < _number(row["gh_p50"]) <= _number(row["gh_p99"]), (key, output)
            continue
        row = dict(zip(COLUMNS, (_number(c) for c in cells[1:]), strict=True))
        assert row["gh_rps"] > 0 and row["peer_rps"] > 0, (key, output)
        assert 0 < row["gh_p50"] <= row["gh_p99"] and 0 < row["peer_p50"] <= row["peer_p99"], (key, output)
        assert row["gh_vs_baseline"] >= 0 and row["gh_vs_peer"] >= 0, (key, output)
        # Rate limits are lifted and every chain keeps its own refresh token: any non-2xx
        # (a 401 token_reused in the refresh chains, say) is a harness or service bug.
        assert row["gh_non2xx"] == 0 and row["peer_non2xx"] == 0, (key, output)

    # The same in JSON.
    reports = list(tmp_path.glob("bench-*.json"))
    assert len(reports) == 1, output
    report = json.loads(reports[0].read_text())
    assert report["config"]["smoke"] is True
    assert report["config"]["rounds"] == 1
    assert list(report["scenarios"]) == SCENARIOS
    for key, row in report["scenarios"].items():
        if key in GATEHOUSE_ONLY:
            assert row["peer"]["status"] == "n/a" and row["gatehouse_over_peer"] is None, (key, row)
            numbers = row["gatehouse"]
            assert numbers["status"] == "ok", (key, numbers)
            # Every verification succeeded and none made the Verifier download the JWKS again.
            assert numbers["requests"] > 0 and numbers["non2xx"] == 0, (key, numbers)
            assert all(run["jwks_fetches"] == 0 for run in numbers["rounds"]), (key, numbers)
            continue
        for side in ("gatehouse", "peer"):
            numbers = row[side]
            assert numbers["status"] == "ok", (key, side, numbers)
            assert numbers["requests"] > 0
            assert numbers["non2xx"] == 0 and numbers["socket_errors"] == 0, (key, side, numbers)
            assert isinstance(numbers["rps"], float) and isinstance(numbers["p99_ms"], float)
        assert isinstance(row["gatehouse_over_peer"], float)
    assert [t["scenario"] for t in report["targets"]] == [
        "baseline",
        "jwt_me",
        "apikey_me",
        "refresh",
        "login",
        "verify",
        "introspect",
    ]
    assert {t["result"] for t in report["targets"]} <= {"PASS", "MISS"}
    assert [t["threshold"] for t in report["targets"]] == [1.0, 2.0, 1.5, 1.3, 0.9, 0.8, 0.8]
    assert "Targets:" in result.stdout
    assert str(reports[0]) in result.stdout
