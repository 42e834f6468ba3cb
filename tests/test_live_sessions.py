"""Sessions across real processes: gunicorn workers on PostgreSQL and Redis."""

import threading
import time
from http import HTTPStatus

import pytest

from accounts.tests.factories import PASSWORD, UserFactory
from tests.conftest import UNLIMITED, start_gunicorn

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


def login(server, username="alice") -> dict:
    response = server.post("/api/v1/auth/login", {"username": username, "password": PASSWORD})
    assert response.status_code == HTTPStatus.OK, response.text
    return response.json()


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_concurrent_refreshes_of_one_token_exactly_one_wins(live_gunicorn):
    UserFactory(username="alice", email="alice@example.com")
    tokens = login(live_gunicorn)
    racers = 12
    barrier = threading.Barrier(racers)
    results: list = [None] * racers

    def refresh(i: int) -> None:
        barrier.wait()
        response = live_gunicorn.post("/api/v1/auth/refresh", {"refresh_token": tokens["refresh_token"]})
        results[i] = (response.status_code, response.json())

    threads = [threading.Thread(target=refresh, args=(i,)) for i in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    winners = [body for status, body in results if status == HTTPStatus.OK]
    losers = [body for status, body in results if status != HTTPStatus.OK]
    assert len(winners) == 1, results
    assert len(losers) == racers - 1
    assert {body["code"] for body in losers} == {"token_reused"}
    # Reuse revoked the whole session: even the winner's new tokens are dead.
    me = live_gunicorn.get("/api/v1/auth/me", headers=bearer(winners[0]["access_token"]))
    assert me.status_code == HTTPStatus.UNAUTHORIZED
    again = live_gunicorn.post("/api/v1/auth/refresh", {"refresh_token": winners[0]["refresh_token"]})
    assert again.status_code == HTTPStatus.UNAUTHORIZED


def test_sequential_refresh_chain_keeps_working(live_gunicorn):
    UserFactory(username="alice", email="alice@example.com")
    tokens = login(live_gunicorn)
    for _ in range(20):
        response = live_gunicorn.post("/api/v1/auth/refresh", {"refresh_token": tokens["refresh_token"]})
        assert response.status_code == HTTPStatus.OK, response.text
        tokens = response.json()
    assert (
        live_gunicorn.get("/api/v1/auth/me", headers=bearer(tokens["access_token"])).status_code
        == HTTPStatus.OK
    )


def test_revocation_in_one_process_is_seen_by_another_within_a_second(live_gunicorn, tmp_path):
    other = start_gunicorn(tmp_path, workers=1, extra_env=UNLIMITED)
    try:
        UserFactory(username="alice", email="alice@example.com")
        tokens = login(live_gunicorn)
        headers = bearer(tokens["access_token"])
        for _ in range(5):  # warm both processes and the shared cache
            assert other.get("/api/v1/auth/me", headers=headers).status_code == HTTPStatus.OK
            assert live_gunicorn.get("/api/v1/auth/me", headers=headers).status_code == HTTPStatus.OK

        assert (
            live_gunicorn.post("/api/v1/auth/logout", {}, headers=headers).status_code
            == HTTPStatus.NO_CONTENT
        )
        revoked_at = time.monotonic()
        response = other.get("/api/v1/auth/me", headers=headers)
        assert response.status_code == HTTPStatus.UNAUTHORIZED
        assert response.json()["code"] == "token_revoked"
        assert time.monotonic() - revoked_at < 1.0
    finally:
        other.process.terminate()
        other.process.wait(timeout=10)
