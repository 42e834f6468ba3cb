"""Rate limits and lockouts across gunicorn workers sharing Redis and PostgreSQL."""

import io
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus

import pytest
from django.core.management import call_command

from accounts.tests.factories import PASSWORD, UserFactory
from tests.conftest import start_gunicorn

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]
WRONG = "definitely not the password"


@pytest.fixture
def server(tmp_path):
    # "/d" windows: a test never straddles a window boundary.
    live = start_gunicorn(
        tmp_path,
        workers=2,
        extra_env={"RATELIMIT_AUTH": "7/d", "RATELIMIT_USER": "9/d", "TRUSTED_PROXY_COUNT": "1"},
    )
    yield live
    live.process.terminate()
    live.process.wait(timeout=10)


def from_client(ip: str, chain: str = "") -> dict:
    """What our one trusted proxy sends: the client's own header plus the address it saw."""
    return {"X-Forwarded-For": f"{chain}, {ip}" if chain else ip}


def test_exact_counts_across_workers(server):
    def register(i: int) -> int:
        body = {"username": f"u{i}", "email": "broken", "password": "x"}
        return server.post("/api/v1/auth/register", body, headers=from_client("198.51.100.1")).status_code

    with ThreadPoolExecutor(max_workers=7) as pool:
        first = list(pool.map(register, range(7)))
    assert first == [HTTPStatus.BAD_REQUEST] * 7  # the 7th still passes the limit
    eighth = server.post("/api/v1/auth/register", {}, headers=from_client("198.51.100.1"))
    assert eighth.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert eighth.json()["code"] == "rate_limited" and int(eighth.headers["Retry-After"]) > 0
    assert server.post("/api/v1/auth/register", {}, headers=from_client("198.51.100.2")).status_code == 400


def test_per_user_limit_holds_across_workers(server):
    UserFactory(username="alice", email="alice@example.com")
    token = server.post(
        "/api/v1/auth/login", {"username": "alice", "password": PASSWORD}, headers=from_client("198.51.100.3")
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    statuses = [server.get("/api/v1/auth/me", headers=headers).status_code for _ in range(10)]
    assert statuses == [200] * 9 + [429]


def test_spoofed_forwarded_for_does_not_escape_the_bucket(server):
    codes = [
        server.post(
            "/api/v1/auth/refresh",
            {"refresh_token": "x"},
            headers=from_client("198.51.100.4", chain=f"10.9.9.{i}"),
        ).status_code
        for i in range(8)
    ]
    assert codes == [401] * 7 + [429]


def test_json_body_keys_separate_clients(server):
    def reset(email: str, ip: str) -> int:
        return server.post(
            "/api/v1/auth/password-reset", {"email": email}, headers=from_client(ip)
        ).status_code

    # One inbox from many addresses: limited by the email in the body.
    assert [reset("victim@example.com", f"198.51.100.{10 + i}") for i in range(8)] == [202] * 7 + [429]
    # Other inboxes are their own buckets (a form-data key would have lumped them together).
    assert [reset(f"user{i}@example.com", f"198.51.100.{30 + i}") for i in range(5)] == [202] * 5


def test_lockout_by_pair_and_by_ip_across_workers_and_unlock(server, tmp_path):
    UserFactory(username="alice", email="alice@example.com")
    relaxed = start_gunicorn(
        tmp_path, workers=2, extra_env={"RATELIMIT_AUTH": "1000/d", "TRUSTED_PROXY_COUNT": "1"}
    )
    try:

        def login(username: str, password: str, ip: str):
            return relaxed.post(
                "/api/v1/auth/login", {"username": username, "password": password}, headers=from_client(ip)
            )

        real = [login("alice", WRONG, "203.0.113.1") for _ in range(5)]
        ghost = [login("ghost", WRONG, "203.0.113.2") for _ in range(5)]
        assert [r.status_code for r in real] == [401] * 4 + [429]
        assert [r.status_code for r in ghost] == [401] * 4 + [429]
        assert (
            real[-1].json()
            == ghost[-1].json()
            == {
                "detail": "Too many failed logins. Try again later.",
                "code": "account_locked",
            }
        )
        assert login("alice", PASSWORD, "203.0.113.1").status_code == 429
        assert login("alice", PASSWORD, "203.0.113.99").status_code == 200  # elsewhere: fine

        call_command("unlock_user", "alice", stdout=io.StringIO())
        assert login("alice", PASSWORD, "203.0.113.1").status_code == 200

        stuffing = [login(f"name{i}", WRONG, "203.0.113.3").status_code for i in range(20)]
        assert stuffing == [401] * 19 + [429]
        assert login("alice", PASSWORD, "203.0.113.3").status_code == 429
    finally:
        relaxed.process.terminate()
        relaxed.process.wait(timeout=10)
