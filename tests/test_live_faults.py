"""Faults: PostgreSQL or Redis stops under a live gunicorn, then comes back.

These tests run their own private PostgreSQL and Redis (the suite's servers stay up), stop
them mid-test and restart them, and check that every answer is prompt JSON and that the
service recovers by itself.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time
from http import HTTPStatus
from pathlib import Path

import pytest
import requests

from tests.conftest import ROOT, _free_port, services_required, start_gunicorn

pytestmark = pytest.mark.live
PASSWORD = "correct horse battery staple"
# Slower than this is "hanging": the app's own timeouts are 3 s (database) and 0.5 s (Redis).
PROMPT = 8.0


class PrivateServers:
    def __init__(self):
        services_required()
        self.bin = os.environ["GH_PG_BIN"]
        self.as_root = os.geteuid() == 0
        self.dir = Path(tempfile.mkdtemp(prefix="gatehouse-faults-", dir="/tmp"))
        self.dir.chmod(0o755)
        self.data = self.dir / "pgdata"
        self.data.mkdir()
        if self.as_root:
            shutil.chown(self.dir, os.environ.get("GH_PG_USER", "postgres"))
            shutil.chown(self.data, os.environ.get("GH_PG_USER", "postgres"))
        self.pg_port, self.redis_port = _free_port(), _free_port()
        self.database_url = f"postgres://gatehouse@127.0.0.1:{self.pg_port}/gatehouse"
        self.redis_url = f"redis://127.0.0.1:{self.redis_port}/0"

    def _pg(self, *args: str) -> None:
        cmd = [f"{self.bin}/{args[0]}", *args[1:]]
        if self.as_root:
            cmd = ["runuser", "-u", os.environ.get("GH_PG_USER", "postgres"), "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)

    def init(self) -> None:
        self._pg(
            "initdb", "-D", str(self.data), "-U", "gatehouse", "--auth=trust", "--no-locale", "-E", "UTF8"
        )
        self.pg_start()
        self._pg("createdb", "-h", "127.0.0.1", "-p", str(self.pg_port), "-U", "gatehouse", "gatehouse")
        self.redis_start()

    def pg_start(self) -> None:
        options = f"-c listen_addresses=127.0.0.1 -p {self.pg_port} -k {self.dir} -c fsync=off"
        self._pg("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.dir / "pg.log"), "-w", "start")

    def pg_stop(self) -> None:
        self._pg("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def redis_start(self) -> None:
        subprocess.run(
            [
                "redis-server",
                "--port",
                str(self.redis_port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "yes",
                "--pidfile",
                str(self.dir / "redis.pid"),
                "--logfile",
                str(self.dir / "redis.log"),
            ],
            check=True,
            timeout=30,
        )
        for _ in range(50):
            if (
                subprocess.run(
                    ["redis-cli", "-p", str(self.redis_port), "ping"], capture_output=True
                ).returncode
                == 0
            ):
                return
            time.sleep(0.1)

    def redis_stop(self) -> None:
        subprocess.run(
            ["redis-cli", "-p", str(self.redis_port), "shutdown", "nosave"], capture_output=True, timeout=30
        )
        time.sleep(0.3)

    def cleanup(self) -> None:
        try:
            self.pg_stop()
        except subprocess.CalledProcessError:
            pass
        self.redis_stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def faulty(tmp_path_factory):
    servers = PrivateServers()
    servers.init()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": servers.database_url,
        "REDIS_URL": servers.redis_url,
        "RATELIMIT_AUTH": "5/d",
    }
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=300,
    )
    subprocess.run(
        [
            sys.executable,
            "manage.py",
            "create_user",
            "alice",
            "--email",
            "alice@example.com",
            "--password-stdin",
        ],
        cwd=ROOT,
        env=env,
        input=PASSWORD + "\n",
        text=True,
        check=True,
        timeout=120,
        capture_output=True,
    )
    server = start_gunicorn(
        tmp_path_factory.mktemp("faults"),
        extra_env={
            "DATABASE_URL": servers.database_url,
            "REDIS_URL": servers.redis_url,
            "RATELIMIT_AUTH": "5/d",
        },
    )
    url = server.url
    servers.url = url
    yield servers
    server.process.terminate()
    server.process.wait(timeout=15)
    servers.cleanup()


def call(method: str, url: str, **kwargs) -> tuple[requests.Response, float]:
    start = time.monotonic()
    response = requests.request(method, url, timeout=30, **kwargs)
    return response, time.monotonic() - start


def wait_healthy(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if requests.get(url + "/api/v1/health", timeout=10).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    pytest.fail("the service did not recover")


def login(url: str) -> dict:
    response = requests.post(
        url + "/api/v1/auth/login", json={"username": "alice", "password": PASSWORD}, timeout=30
    )
    assert response.status_code == HTTPStatus.OK, response.text
    return response.json()


def test_database_down_answers_503_json_promptly_and_recovers(faulty):
    tokens = login(faulty.url)
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert requests.get(faulty.url + "/api/v1/auth/me", headers=bearer, timeout=30).status_code == 200  # warm
    faulty.pg_stop()
    try:
        health, took = call("GET", faulty.url + "/api/v1/health")
        assert health.status_code == HTTPStatus.SERVICE_UNAVAILABLE and took < PROMPT
        assert health.json() == {"status": "error", "database": "down", "cache": "ok"}

        for method, path, body in [
            ("POST", "/api/v1/auth/login", {"username": "alice", "password": PASSWORD}),
            ("POST", "/api/v1/auth/refresh", {"refresh_token": tokens["refresh_token"]}),
            ("GET", "/api/v1/auth/sessions", None),
        ]:
            response, took = call(method, faulty.url + path, json=body, headers=bearer)
            assert took < PROMPT, (path, took)
            assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE, (path, response.text)
            assert response.json()["code"] == "service_unavailable"
        # What needs no database (a warm JWT check) keeps working.
        me, _ = call("GET", faulty.url + "/api/v1/auth/me", headers=bearer)
        assert me.status_code == HTTPStatus.OK
    finally:
        faulty.pg_start()
    wait_healthy(faulty.url)
    assert login(faulty.url)["access_token"]


def test_redis_down_keeps_auth_and_revocation_and_fails_limits_open(faulty):
    tokens = login(faulty.url)
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert requests.get(faulty.url + "/api/v1/auth/me", headers=bearer, timeout=30).status_code == 200
    faulty.redis_stop()
    try:
        health, took = call("GET", faulty.url + "/api/v1/health")
        assert health.status_code == HTTPStatus.SERVICE_UNAVAILABLE and took < PROMPT
        assert health.json() == {"status": "error", "database": "ok", "cache": "down"}

        me, took = call("GET", faulty.url + "/api/v1/auth/me", headers=bearer)
        assert me.status_code == HTTPStatus.OK and took < PROMPT  # the database answers instead

        # Limits fail open: more registrations than RATELIMIT_AUTH allows, none refused as 429.
        codes = [call("POST", faulty.url + "/api/v1/auth/register", json={})[0].status_code for _ in range(7)]
        assert HTTPStatus.TOO_MANY_REQUESTS not in codes and set(codes) == {HTTPStatus.BAD_REQUEST}

        # Revocation still holds: the database is the source of truth.
        logout, _ = call("POST", faulty.url + "/api/v1/auth/logout", json={}, headers=bearer)
        assert logout.status_code == HTTPStatus.NO_CONTENT
        after, _ = call("GET", faulty.url + "/api/v1/auth/me", headers=bearer)
        assert after.status_code == HTTPStatus.UNAUTHORIZED and after.json()["code"] == "token_revoked"
    finally:
        faulty.redis_start()
    wait_healthy(faulty.url)
    again, _ = call("GET", faulty.url + "/api/v1/auth/me", headers=bearer)
    assert again.status_code == HTTPStatus.UNAUTHORIZED  # still revoked once the cache is back
    # Limits count again.
    codes = [call("POST", faulty.url + "/api/v1/auth/register", json={})[0].status_code for _ in range(7)]
    assert HTTPStatus.TOO_MANY_REQUESTS in codes
