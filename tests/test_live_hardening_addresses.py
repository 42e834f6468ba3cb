"""Issue 12 (hardening) across gunicorn workers on PostgreSQL and Redis: IPv6 prefixes as one
client, IPv4-mapped addresses in a verifiable audit chain, exactly one lockout event however
many failures cross the limit at once."""

import io
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus

import pytest
from django.core.management import call_command

from accounts.models import Session
from accounts.tests.factories import PASSWORD, UserFactory
from audit.models import AuditEvent
from tests.conftest import start_gunicorn

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]
WRONG = "definitely not the password"


def stop(server) -> None:
    server.process.terminate()
    server.process.wait(timeout=10)


def via_proxy(hop: str) -> dict:
    """What our one trusted proxy appends to the client's own header."""
    return {"X-Forwarded-For": f"6.6.6.6, {hop}"}


def audit_verify() -> str:
    out = io.StringIO()
    call_command("audit_verify", stdout=out)  # raises CommandError (exit 1) on a broken chain
    return out.getvalue()


def test_ipv6_rotation_within_a_64_is_one_client_for_lockout_and_rate_limits(tmp_path):
    UserFactory(username="alice", email="alice@example.com")
    server = start_gunicorn(tmp_path, extra_env={"TRUSTED_PROXY_COUNT": "1", "RATELIMIT_AUTH": "6/d"})
    try:

        def login(password: str, ip: str):
            body = {"username": "alice", "password": password}
            return server.post("/api/v1/auth/login", body, headers=via_proxy(ip))

        guesses = [login(WRONG, f"2001:db8:77:1::{i}").status_code for i in range(1, 6)]
        assert guesses == [401] * 4 + [429]
        sixth = login(PASSWORD, "2001:db8:77:1:ffff::6")
        assert sixth.status_code == HTTPStatus.TOO_MANY_REQUESTS and sixth.json()["code"] == "account_locked"
        assert login(PASSWORD, "2001:db8:77:2::1").status_code == HTTPStatus.OK  # another /64

        def register(ip: str) -> int:
            return server.post("/api/v1/auth/register", {}, headers=via_proxy(ip)).status_code

        assert [register(f"2001:db8:88:1::{i:x}") for i in range(1, 8)] == [400] * 6 + [429]
        assert register("2001:db8:88:2::1") == HTTPStatus.BAD_REQUEST
        # The audit trail and the session keep the full addresses.
        assert AuditEvent.objects.filter(ip_address="2001:db8:77:1:ffff::6").exists()
        assert Session.objects.get().ip_address == "2001:db8:77:2::1"
    finally:
        stop(server)


def test_ipv4_mapped_and_bracketed_forwarded_addresses_are_canonical_and_the_chain_verifies(tmp_path):
    UserFactory(username="alice", email="alice@example.com")
    server = start_gunicorn(tmp_path, extra_env={"TRUSTED_PROXY_COUNT": "1", "RATELIMIT_AUTH": "1000/d"})
    try:
        for hop in ("::ffff:203.0.113.7", "[::ffff:203.0.113.7]:443", "203.0.113.7:4711"):
            body = {"username": "alice", "password": PASSWORD}
            assert server.post("/api/v1/auth/login", body, headers=via_proxy(hop)).status_code == 200
        logins = AuditEvent.objects.filter(event="auth.login_succeeded")
        assert list(logins.values_list("ip_address", flat=True)) == ["203.0.113.7"] * 3
    finally:
        stop(server)
    assert "events verified" in audit_verify()


def test_a_dual_stack_socket_gives_ipv4_mapped_remote_addr_and_the_chain_still_verifies(tmp_path):
    """gunicorn on an IPv6 socket that IPv4 clients reach: REMOTE_ADDR is `::ffff:127.0.0.1`."""
    UserFactory(username="alice", email="alice@example.com")
    server = start_gunicorn(tmp_path, extra_env={"RATELIMIT_AUTH": "1000/d"}, bind_host="[::ffff:127.0.0.1]")
    try:
        body = {"username": "alice", "password": PASSWORD}
        assert server.post("/api/v1/auth/login", body).status_code == HTTPStatus.OK
        assert server.post("/api/v1/auth/login", {**body, "password": WRONG}).status_code == 401
    finally:
        stop(server)
    addresses = set(AuditEvent.objects.filter(event__startswith="auth.").values_list("ip_address", flat=True))
    assert addresses == {"127.0.0.1"}
    assert "events verified" in audit_verify()


def test_ipv6_loopback_server_audits_the_ipv6_client(tmp_path):
    UserFactory(username="alice", email="alice@example.com")
    env = {"RATELIMIT_AUTH": "1000/d", "DJANGO_ALLOWED_HOSTS": "[::1]"}
    server = start_gunicorn(tmp_path, extra_env=env, bind_host="[::1]", url_host="[::1]")
    try:
        body = {"username": "alice", "password": PASSWORD}
        assert server.post("/api/v1/auth/login", body).status_code == HTTPStatus.OK
    finally:
        stop(server)
    assert AuditEvent.objects.get(event="auth.login_succeeded").ip_address == "::1"
    assert "events verified" in audit_verify()


def test_concurrent_failures_past_a_limit_write_exactly_one_locked_out_per_lock(tmp_path):
    UserFactory(username="alice", email="alice@example.com")
    UserFactory(username="bob", email="bob@example.com")
    server = start_gunicorn(
        tmp_path,
        workers=4,
        extra_env={
            "TRUSTED_PROXY_COUNT": "1",
            "RATELIMIT_AUTH": "100000/d",
            "AXES_ACCOUNT_FAILURE_LIMIT": "13",
        },
    )
    try:

        def fail(username: str, ip: str) -> int:
            body = {"username": username, "password": WRONG}
            return server.post("/api/v1/auth/login", body, headers=via_proxy(ip)).status_code

        with ThreadPoolExecutor(max_workers=12) as pool:
            # One name from one address: the pair lock (limit 5), 12 at once.
            pair = list(pool.map(lambda _: fail("alice", "198.51.100.50"), range(12)))
            # One name from 24 addresses: the account lock (limit 13; alice stays under it).
            account = list(pool.map(lambda i: fail("bob", f"203.0.113.{i + 1}"), range(24)))
    finally:
        stop(server)
    assert pair.count(429) >= 7 and account.count(429) >= 11
    locked = AuditEvent.objects.filter(event="auth.locked_out").order_by("seq")
    assert sorted((e.target_label, e.details["lock"]) for e in locked) == [
        ("alice", "pair"),
        ("bob", "account"),
    ]
    assert "events verified" in audit_verify()
