"""Signing keys across real processes: gunicorn workers sharing one PostgreSQL key table."""

import threading
import time
from http import HTTPStatus
from io import StringIO

import pytest
from django.core.management import call_command

from accounts.models import SigningKey
from accounts.tests.factories import PASSWORD, UserFactory
from tests.conftest import UNLIMITED, start_gunicorn

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


def kid_of(token: str) -> str:
    import jwt

    return jwt.get_unverified_header(token)["kid"]


@pytest.fixture
def two_servers(live_gunicorn, tmp_path):
    other = start_gunicorn(tmp_path, workers=1, extra_env=UNLIMITED)
    yield live_gunicorn, other
    other.process.terminate()
    other.process.wait(timeout=10)


def test_processes_starting_at_once_create_one_key_and_trust_each_others_tokens(two_servers):
    SigningKey.objects.all().delete()
    UserFactory(username="alice", email="alice@example.com")
    servers = two_servers
    racers = 12
    barrier = threading.Barrier(racers)
    tokens: list = [None] * racers

    def login(i: int) -> None:
        barrier.wait()
        response = servers[i % 2].post("/api/v1/auth/login", {"username": "alice", "password": PASSWORD})
        tokens[i] = response.json() if response.status_code == HTTPStatus.OK else response.text

    threads = [threading.Thread(target=login, args=(i,)) for i in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert all(isinstance(t, dict) for t in tokens), tokens
    assert SigningKey.objects.count() == 1
    assert {kid_of(t["access_token"]) for t in tokens} == {SigningKey.objects.get().kid}
    for i, t in enumerate(tokens):
        me = servers[(i + 1) % 2].get(
            "/api/v1/auth/me", headers={"Authorization": f"Bearer {t['access_token']}"}
        )
        assert me.status_code == HTTPStatus.OK


def test_a_retired_key_is_refused_by_every_process_within_about_a_second(two_servers):
    UserFactory(username="alice", email="alice@example.com")
    first, second = two_servers
    tokens = first.post("/api/v1/auth/login", {"username": "alice", "password": PASSWORD}).json()
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    for _ in range(4):  # remembered as verified in every worker
        for server in two_servers:
            assert server.get("/api/v1/auth/me", headers=headers).status_code == HTTPStatus.OK
    kid = kid_of(tokens["access_token"])
    assert kid in {key["kid"] for key in second.get("/.well-known/jwks.json").json()["keys"]}

    call_command("jwt_keys", "retire", kid, stdout=StringIO())
    retired_at = time.monotonic()
    for server in two_servers:
        while server.get("/api/v1/auth/me", headers=headers).status_code != HTTPStatus.UNAUTHORIZED:
            assert time.monotonic() - retired_at < 1.5, "a process still accepts the retired key"
            time.sleep(0.05)
    time.sleep(max(0.0, retired_at + 1.1 - time.monotonic()))
    for server in two_servers:
        for _ in range(6):  # every worker has re-read the key table by now
            assert server.get("/api/v1/auth/me", headers=headers).status_code == HTTPStatus.UNAUTHORIZED
        assert kid not in {key["kid"] for key in server.get("/.well-known/jwks.json").json()["keys"]}
    fresh = second.post("/api/v1/auth/login", {"username": "alice", "password": PASSWORD}).json()
    assert kid_of(fresh["access_token"]) != kid
    assert (
        first.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {fresh['access_token']}"}).status_code
        == HTTPStatus.OK
    )
