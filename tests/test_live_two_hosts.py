"""Two app hosts behind a load balancer: two gunicorn instances sharing PostgreSQL and Redis."""

import threading
import time
from http import HTTPStatus

import pytest

from accounts.tests.factories import PASSWORD, UserFactory
from tests.conftest import UNLIMITED, start_gunicorn, stop_gunicorn

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def hosts(django_db_setup, django_db_blocker, tmp_path_factory):
    """Fresh processes per test: each test's database is emptied afterwards, signing keys
    included, which no deployment does under running hosts; hosts kept across tests would
    still sign with a key the next test's database no longer has (token_not_valid)."""
    started = []
    try:
        for name in ("a", "b"):
            started.append(start_gunicorn(tmp_path_factory.mktemp(f"host-{name}"), extra_env=UNLIMITED))
        yield started
    finally:
        for server in started:
            stop_gunicorn(server)


def login(server) -> dict:
    response = server.post("/api/v1/auth/login", {"username": "alice", "password": PASSWORD})
    assert response.status_code == HTTPStatus.OK, response.text
    return response.json()


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_session_revoked_through_one_host_is_refused_by_the_other_within_a_second(hosts):
    host_a, host_b = hosts
    UserFactory(username="alice", email="alice@example.com")
    headers = bearer(login(host_a)["access_token"])
    for _ in range(3):  # both hosts have answered from the shared cache
        assert host_a.get("/api/v1/auth/me", headers=headers).status_code == HTTPStatus.OK
        assert host_b.get("/api/v1/auth/me", headers=headers).status_code == HTTPStatus.OK

    assert host_a.post("/api/v1/auth/logout", {}, headers=headers).status_code == HTTPStatus.NO_CONTENT
    revoked_at = time.monotonic()
    while True:
        response = host_b.get("/api/v1/auth/me", headers=headers)
        if response.status_code == HTTPStatus.UNAUTHORIZED:
            break
        assert time.monotonic() - revoked_at < 1.0, "host b still accepts the revoked session"
    assert time.monotonic() - revoked_at < 1.0
    assert response.json()["code"] == "token_revoked"


def test_refresh_race_split_across_two_hosts_has_one_winner_and_revokes_the_session(hosts):
    UserFactory(username="alice", email="alice@example.com")
    tokens = login(hosts[0])
    racers = 12
    barrier = threading.Barrier(racers)
    results: list = [None] * racers

    def refresh(i: int) -> None:
        barrier.wait()
        response = hosts[i % 2].post("/api/v1/auth/refresh", {"refresh_token": tokens["refresh_token"]})
        results[i] = (response.status_code, response.json())

    threads = [threading.Thread(target=refresh, args=(i,)) for i in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    winners = [body for status, body in results if status == HTTPStatus.OK]
    losers = [(status, body.get("code")) for status, body in results if status != HTTPStatus.OK]
    assert len(winners) == 1, results
    assert len(losers) == racers - 1
    assert {status for status, _ in losers} == {HTTPStatus.UNAUTHORIZED}, losers
    assert {code for _, code in losers} <= {"token_reused", "token_revoked"}, losers
    # The reuse revoked the session: the winner's new pair is dead on both hosts.
    for host in hosts:
        me = host.get("/api/v1/auth/me", headers=bearer(winners[0]["access_token"]))
        assert me.status_code == HTTPStatus.UNAUTHORIZED and me.json()["code"] == "token_revoked"
        again = host.post("/api/v1/auth/refresh", {"refresh_token": winners[0]["refresh_token"]})
        assert again.status_code == HTTPStatus.UNAUTHORIZED
