"""Redis behind Sentinel: the primary is killed under load and a replica takes over.

The test runs its own primary, replica and one Sentinel (quorum 1), and gunicorn configured
with REDIS_SENTINELS / REDIS_SENTINEL_MASTER on the suite's test database.
"""

import base64
import json
import os
import pickle
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from http import HTTPStatus
from pathlib import Path

import pytest
import redis
import requests

from accounts.tests.factories import PASSWORD, UserFactory
from tests.conftest import _free_port, start_gunicorn, stop_gunicorn

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]
SERVICE = "gatehouse"


def wait_for(predicate, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except redis.RedisError:
            value = None
        if value:
            return value
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


class SentinelRedis:
    """A primary, a read-only replica and one Sentinel watching them, in a private directory."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="gatehouse-sentinel-", dir="/tmp"))
        self.primary_port, self.replica_port, self.sentinel_port = _free_port(), _free_port(), _free_port()

    def _server(self, name: str, port: int, *extra: str) -> None:
        args = ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        args += ["--daemonize", "yes", "--dir", str(self.dir), "--pidfile", str(self.dir / f"{name}.pid")]
        args += ["--logfile", str(self.dir / f"{name}.log"), *extra]
        subprocess.run(["redis-server", *args], check=True, timeout=30)

    def start(self) -> None:
        self._server("primary", self.primary_port)
        wait_for(redis.Redis(port=self.primary_port).ping, 10, "the primary")
        self._server(
            "replica",
            self.replica_port,
            "--replicaof",
            "127.0.0.1",
            str(self.primary_port),
            "--replica-read-only",
            "yes",
        )
        replica = redis.Redis(port=self.replica_port)
        wait_for(lambda: replica.info("replication")["master_link_status"] == "up", 20, "replication")
        config = self.dir / "sentinel.conf"
        config.write_text(
            f"port {self.sentinel_port}\nbind 127.0.0.1\ndaemonize yes\ndir {self.dir}\n"
            f"pidfile {self.dir / 'sentinel.pid'}\nlogfile {self.dir / 'sentinel.log'}\n"
            f"sentinel monitor {SERVICE} 127.0.0.1 {self.primary_port} 1\n"
            f"sentinel down-after-milliseconds {SERVICE} 1500\n"
            f"sentinel failover-timeout {SERVICE} 3000\n"
            f"sentinel parallel-syncs {SERVICE} 1\n"
        )
        subprocess.run(["redis-server", str(config), "--sentinel"], check=True, timeout=30)
        self.sentinel = redis.Redis(port=self.sentinel_port, decode_responses=True)
        wait_for(lambda: self.sentinel.sentinel_slaves(SERVICE), 20, "the Sentinel to see the replica")

    def primary_address(self) -> tuple[str, int]:
        return tuple(self.sentinel.sentinel_get_master_addr_by_name(SERVICE))

    def kill_primary(self) -> None:
        os.kill(int((self.dir / "primary.pid").read_text()), signal.SIGKILL)

    def stop(self) -> None:
        for name in ("sentinel", "replica", "primary"):
            pidfile = self.dir / f"{name}.pid"
            if pidfile.exists():
                try:
                    os.kill(int(pidfile.read_text()), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def sentinel_redis():
    servers = SentinelRedis()
    try:
        servers.start()
        yield servers
    finally:
        servers.stop()


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def session_id(access_token: str) -> str:
    payload = access_token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["sid"]


def test_primary_killed_under_load_requests_keep_working_and_revocations_hold_after_failover(
    sentinel_redis, tmp_path
):
    server = start_gunicorn(
        tmp_path,
        extra_env={
            "REDIS_URL": "",
            "REDIS_SENTINELS": f"127.0.0.1:{sentinel_redis.sentinel_port}",
            "REDIS_SENTINEL_MASTER": SERVICE,
            "RATELIMIT_AUTH": "5/m",
            "RATELIMIT_USER": "1000000/h",
        },
    )
    try:
        UserFactory(username="alice", email="alice@example.com")
        sessions = []
        for _ in range(3):  # three logins: under the per-IP limit of 5 a minute
            response = server.post("/api/v1/auth/login", {"username": "alice", "password": PASSWORD})
            assert response.status_code == HTTPStatus.OK, response.text
            sessions.append(bearer(response.json()["access_token"]))
        revoked_before, revoked_during, live = sessions
        for headers in sessions:  # every session's "live" state is cached on the primary
            assert server.get("/api/v1/auth/me", headers=headers).status_code == HTTPStatus.OK
        assert server.post("/api/v1/auth/logout", {}, headers=revoked_before).status_code == 204
        primary = redis.Redis(port=sentinel_redis.primary_port)
        assert primary.wait(1, 2000) == 1  # ... and on the replica

        stop = threading.Event()
        outcomes: list[tuple[int, float]] = []

        def load() -> None:
            while not stop.is_set():
                started = time.monotonic()
                response = requests.get(server.url + "/api/v1/auth/me", headers=live, timeout=30)
                outcomes.append((response.status_code, time.monotonic() - started))

        threads = [threading.Thread(target=load) for _ in range(3)]
        for thread in threads:
            thread.start()
        try:
            time.sleep(0.5)
            old_primary = sentinel_redis.primary_address()
            sentinel_redis.kill_primary()
            killed_at = time.monotonic()
            logout = server.post("/api/v1/auth/logout", {}, headers=revoked_during)
            assert logout.status_code == HTTPStatus.NO_CONTENT
            # Still before the failover: the replica holds this session's old "live" entry, and
            # nobody may read it.
            during = server.get("/api/v1/auth/me", headers=revoked_during)
            assert during.status_code == HTTPStatus.UNAUTHORIZED and during.json()["code"] == "token_revoked"
            assert sentinel_redis.primary_address() == old_primary, "the failover came too early to test"
            wait_for(
                lambda: sentinel_redis.primary_address()[1] == sentinel_redis.replica_port,
                30,
                "the Sentinel to promote the replica",
            )
            failover_seconds = time.monotonic() - killed_at
            time.sleep(1.0)  # load on the new primary too
        finally:
            stop.set()
            for thread in threads:
                thread.join()

        statuses = [status for status, _ in outcomes]
        slow = [took for _, took in outcomes if took > 2.0]
        assert statuses and set(statuses) == {HTTPStatus.OK}, sorted(set(statuses))
        assert len(slow) <= max(3, len(outcomes) // 20), (len(outcomes), slow, failover_seconds)
        assert max(took for _, took in outcomes) < 8, (len(outcomes), slow, failover_seconds)

        # The promoted replica still has the old primary's "live" entry for the session revoked
        # during the failover (the publish failed); keys carry the Sentinel epoch, so it is never read.
        new_primary = redis.Redis(port=sentinel_redis.replica_port)
        stale = new_primary.get(f"gh:e0:1:auth:session:{session_id(revoked_during['Authorization'][7:])}")
        assert stale is not None and pickle.loads(stale)["revoked"] is False  # noqa: S301 (our own test Redis)
        for headers in (revoked_before, revoked_during):
            response = server.get("/api/v1/auth/me", headers=headers)
            assert (
                response.status_code == HTTPStatus.UNAUTHORIZED and response.json()["code"] == "token_revoked"
            )
        assert server.get("/api/v1/auth/me", headers=live).status_code == HTTPStatus.OK
        wait_for(lambda: server.get("/api/v1/health").status_code == HTTPStatus.OK, 10, "health")
        assert new_primary.keys("gh:e1:*"), "nothing written under the new epoch"

        # Rate limits count again on the new primary (12 tries span at most two windows of 5).
        codes = [server.post("/api/v1/auth/register", {}).status_code for _ in range(12)]
        assert codes.count(HTTPStatus.TOO_MANY_REQUESTS) >= 1, codes
    finally:
        stop_gunicorn(server)
