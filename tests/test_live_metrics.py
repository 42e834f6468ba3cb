"""/metrics under gunicorn with several workers: counters sum over every process."""

import os
import re
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus

import pytest
from prometheus_client.multiprocess import MultiProcessCollector

from tests.conftest import UNLIMITED, start_gunicorn

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

TOKEN = "live-metrics-token-0123456789abcdef"
FAILED_LOGINS = 24


def failures_in(text: str) -> float:
    match = re.search(r'^gatehouse_logins_total\{outcome="failure"\} (\S+)$', text, re.MULTILINE)
    assert match, text[:2000]
    return float(match.group(1))


def failures_per_file(directory) -> dict[str, float]:
    """Each worker's own count, read from its file in the multiprocess directory."""
    out = {}
    for path in sorted(directory.glob("counter_*.db")):
        for metric in MultiProcessCollector.merge([str(path)]):
            for sample in metric.samples:
                if sample.name == "gatehouse_logins_total" and sample.labels == {"outcome": "failure"}:
                    out[path.name] = sample.value
    return out


@pytest.fixture
def metrics_server(tmp_path):
    directory = tmp_path / "prometheus"  # made by config/gunicorn.py's on_starting
    env = {
        **UNLIMITED,
        "AXES_IP_FAILURE_LIMIT": "1000",
        "PROMETHEUS_MULTIPROC_DIR": str(directory),
        "METRICS_TOKEN": TOKEN,
    }
    server = start_gunicorn(tmp_path, workers=2, extra_env=env, config_file=True)
    server.directory = directory
    yield server
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()


def scrape(server) -> str:
    response = server.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == HTTPStatus.OK, response.text
    return response.text


def test_failed_logins_on_both_workers_sum_to_exactly_their_number(metrics_server):
    assert metrics_server.get("/metrics").status_code == HTTPStatus.UNAUTHORIZED

    def fail(i: int) -> int:
        body = {"username": f"nobody{i}", "password": "wrong words here"}
        return metrics_server.post("/api/v1/auth/login", json=body).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(fail, range(FAILED_LOGINS)))
    assert statuses == [HTTPStatus.UNAUTHORIZED] * FAILED_LOGINS

    per_worker = failures_per_file(metrics_server.directory)
    assert len(per_worker) == 2, per_worker  # both workers answered some of them
    assert all(count > 0 for count in per_worker.values()), per_worker
    assert sum(per_worker.values()) == FAILED_LOGINS
    # Whichever worker answers the scrape, it reports the sum over both.
    for _ in range(4):
        assert failures_in(scrape(metrics_server)) == FAILED_LOGINS

    text = scrape(metrics_server)
    assert 'route="/api/v1/auth/login",status="4xx"' in text
    assert "nobody" not in text

    # A worker that dies is replaced; what it counted still counts (counters never go back).
    victim = int(next(iter(per_worker)).removeprefix("counter_").removesuffix(".db"))
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        files = {p.name for p in metrics_server.directory.glob("counter_*.db")}
        if len(files) == 3:  # the replacement has answered a request
            break
        metrics_server.get("/api/v1/health/live")
        time.sleep(0.1)
    for _ in range(4):
        assert failures_in(scrape(metrics_server)) == FAILED_LOGINS
