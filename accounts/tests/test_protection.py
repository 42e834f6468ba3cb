"""Lockout (django-axes) and rate limits (django-ratelimit) as a client meets them."""

import io
from http import HTTPStatus

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.errors import ACCOUNT_LOCKED, INVALID_CREDENTIALS
from accounts.tests.factories import PASSWORD, UserFactory
from accounts.tests.helpers import bearer_client, login, staff_login
from audit.models import AuditEvent

pytestmark = pytest.mark.django_db
WRONG = "definitely not the password"


def attempt(client, username, password=WRONG, ip="198.51.100.1", **extra):
    return client.post(
        "/api/v1/auth/login",
        {"username": username, "password": password},
        format="json",
        REMOTE_ADDR=ip,
        **extra,
    )


@pytest.fixture(autouse=True)
def _roomy_auth_rate(settings):
    # These tests count lockouts, not rate limits; the rate-limit tests set their own.
    settings.RATELIMIT_AUTH = "1000/m"


def test_fifth_failure_locks_the_pair_with_429_and_retry_after(api_client, user):
    for _ in range(4):
        assert attempt(api_client, "alice").status_code == HTTPStatus.UNAUTHORIZED
    locked = attempt(api_client, "alice")
    assert locked.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert locked.json() == {"detail": ACCOUNT_LOCKED, "code": "account_locked"}
    assert 1700 < int(locked["Retry-After"]) <= 1801
    # Even the right password is refused from this address...
    assert attempt(api_client, "alice", PASSWORD).status_code == HTTPStatus.TOO_MANY_REQUESTS
    # ...but the victim still logs in from anywhere else.
    assert attempt(api_client, "alice", PASSWORD, ip="203.0.113.50").status_code == HTTPStatus.OK


def test_unknown_username_locks_and_answers_exactly_like_a_real_one(api_client, user):
    real = [attempt(api_client, "alice") for _ in range(6)]
    ghost = [attempt(api_client, "ghost-user", ip="198.51.100.2") for _ in range(6)]
    for a, b in zip(real, ghost, strict=True):
        assert a.status_code == b.status_code
        assert a.json() == b.json()
    assert real[0].json() == {"detail": INVALID_CREDENTIALS, "code": "invalid_credentials"}
    assert real[-1].status_code == HTTPStatus.TOO_MANY_REQUESTS


def test_login_by_email_counts_under_the_email(api_client, user):
    for _ in range(5):
        attempt(api_client, "ALICE@example.com")
    assert attempt(api_client, "alice@example.com").status_code == HTTPStatus.TOO_MANY_REQUESTS


def test_username_and_email_share_one_lockout_count(api_client, user):
    for name in ("alice", "alice@example.com", "ALICE", "Alice@Example.com"):
        assert attempt(api_client, name).status_code == HTTPStatus.UNAUTHORIZED
    assert attempt(api_client, "alice@example.com").status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert attempt(api_client, "alice", PASSWORD).status_code == HTTPStatus.TOO_MANY_REQUESTS


def test_credential_stuffing_from_one_ip_locks_that_ip(api_client, user, settings):
    assert settings.AXES_IP_FAILURE_LIMIT == 20
    for i in range(19):
        assert attempt(api_client, f"victim{i}").status_code == HTTPStatus.UNAUTHORIZED
    assert attempt(api_client, "victim19").status_code == HTTPStatus.TOO_MANY_REQUESTS
    # Now any name from that address is refused, a real one with its password included.
    assert attempt(api_client, "alice", PASSWORD).status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert attempt(api_client, "alice", PASSWORD, ip="203.0.113.9").status_code == HTTPStatus.OK


def test_success_clears_the_pairs_failures(api_client, user):
    for _ in range(4):
        attempt(api_client, "alice")
    assert attempt(api_client, "alice", PASSWORD).status_code == HTTPStatus.OK
    for _ in range(4):
        assert attempt(api_client, "alice").status_code == HTTPStatus.UNAUTHORIZED


def lock(client, username="alice"):
    for _ in range(5):
        attempt(client, username)
    assert attempt(client, username, PASSWORD).status_code == HTTPStatus.TOO_MANY_REQUESTS


def test_unlock_with_the_command(api_client, user):
    lock(api_client)
    out = io.StringIO()
    call_command("unlock_user", "alice", stdout=out)
    assert "Unlocked alice" in out.getvalue()
    assert attempt(api_client, "alice", PASSWORD).status_code == HTTPStatus.OK
    lock(api_client)
    UserFactory(username="bob", email="bob@example.com")
    lock(api_client, "bob")
    call_command("unlock_user", "--all", stdout=out)
    assert attempt(api_client, "bob", PASSWORD).status_code == HTTPStatus.OK
    unlocked = AuditEvent.objects.filter(event="auth.unlocked").order_by("seq")
    assert [e.actor_kind for e in unlocked] == ["operator", "operator"]


@pytest.mark.parametrize(
    "args,message", [([], "give a USERNAME or --all"), (["ghost"], "no user named 'ghost'")]
)
def test_unlock_command_errors(db, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("unlock_user", *args)


def test_unlock_through_the_admin_api(api_client, user, admin_user):
    admin = bearer_client(login(api_client, admin_user.username)["access_token"])
    lock(api_client)
    assert admin.post(f"/api/v1/admin/users/{user.pk}/unlock").status_code == HTTPStatus.NO_CONTENT
    assert attempt(api_client, "alice", PASSWORD).status_code == HTTPStatus.OK
    assert admin.post("/api/v1/admin/users/999999/unlock").status_code == HTTPStatus.NOT_FOUND
    mere = bearer_client(login(api_client, "alice")["access_token"])
    assert mere.post(f"/api/v1/admin/users/{user.pk}/unlock").status_code == HTTPStatus.FORBIDDEN


def test_unlock_through_the_django_admin(client, api_client, user, admin_user):
    lock(api_client)
    staff_login(client, admin_user)
    response = client.post(
        "/admin/accounts/user/", {"action": "unlock_selected", "_selected_action": [user.pk]}
    )
    assert response.status_code == HTTPStatus.FOUND
    assert attempt(api_client, "alice", PASSWORD).status_code == HTTPStatus.OK
    assert AuditEvent.objects.get(event="auth.unlocked").actor_id == admin_user.pk


# --- Rate limits ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "path,body",
    [
        ("/api/v1/auth/login", {"username": "nobody", "password": WRONG}),
        ("/api/v1/auth/register", {"username": "x", "email": "bad", "password": "p"}),
        ("/api/v1/auth/refresh", {"refresh_token": "nope"}),
        ("/api/v1/auth/password-reset", {"email": "someone@example.com"}),
    ],
)
def test_auth_endpoints_are_limited_per_ip(api_client, settings, path, body):
    settings.RATELIMIT_AUTH = "3/d"
    for _ in range(3):
        assert (
            api_client.post(path, body, format="json", REMOTE_ADDR="192.0.2.1").status_code
            != HTTPStatus.TOO_MANY_REQUESTS
        )
    limited = api_client.post(path, body, format="json", REMOTE_ADDR="192.0.2.1")
    assert limited.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert limited.json() == {"detail": "Too many requests. Try again later.", "code": "rate_limited"}
    assert int(limited["Retry-After"]) >= 1
    # Another client has its own bucket (another address, and for a reset another inbox).
    other = {**body, "email": "another@example.com"} if "password-reset" in path else body
    assert (
        api_client.post(path, other, format="json", REMOTE_ADDR="192.0.2.2").status_code
        != HTTPStatus.TOO_MANY_REQUESTS
    )


def test_each_auth_endpoint_has_its_own_bucket(api_client, settings):
    settings.RATELIMIT_AUTH = "2/d"
    for _ in range(2):
        attempt(api_client, "nobody", ip="192.0.2.3")
    assert attempt(api_client, "nobody", ip="192.0.2.3").status_code == HTTPStatus.TOO_MANY_REQUESTS
    reset = api_client.post(
        "/api/v1/auth/password-reset", {"email": "a@example.com"}, format="json", REMOTE_ADDR="192.0.2.3"
    )
    assert reset.status_code == HTTPStatus.ACCEPTED


def test_password_reset_is_also_limited_per_target_email_from_the_json_body(api_client, settings):
    settings.RATELIMIT_AUTH = "2/d"
    for i in range(2):
        ok = api_client.post(
            "/api/v1/auth/password-reset",
            {"email": "victim@example.com"},
            format="json",
            REMOTE_ADDR=f"192.0.2.{10 + i}",
        )
        assert ok.status_code == HTTPStatus.ACCEPTED
    flood = api_client.post(
        "/api/v1/auth/password-reset",
        {"email": "VICTIM@example.com"},
        format="json",
        REMOTE_ADDR="192.0.2.99",
    )
    assert flood.status_code == HTTPStatus.TOO_MANY_REQUESTS
    other = api_client.post(
        "/api/v1/auth/password-reset", {"email": "other@example.com"}, format="json", REMOTE_ADDR="192.0.2.98"
    )
    assert other.status_code == HTTPStatus.ACCEPTED


def test_authenticated_requests_are_limited_per_user_by_role(api_client, settings, user):
    settings.RATELIMIT_BY_ROLE = {**settings.RATELIMIT_BY_ROLE, "user": "3/d", "developer": "5/d"}
    UserFactory(username="dev", email="dev@example.com", role="developer")
    alice = bearer_client(login(api_client, "alice")["access_token"])
    dev = bearer_client(login(api_client, "dev")["access_token"])
    assert [alice.get("/api/v1/auth/me").status_code for _ in range(4)] == [200, 200, 200, 429]
    assert [dev.get("/api/v1/auth/me").status_code for _ in range(6)] == [200] * 5 + [429]
    # A second session of the same user shares the user's bucket.
    again = bearer_client(login(api_client, "alice")["access_token"])
    assert again.get("/api/v1/auth/me").status_code == HTTPStatus.TOO_MANY_REQUESTS


def test_api_keys_have_their_own_limit(api_client, settings, user):
    settings.RATELIMIT_BY_ROLE = {**settings.RATELIMIT_BY_ROLE, "user": "50/d"}
    owner = bearer_client(login(api_client, "alice")["access_token"])
    key = owner.post(
        "/api/v1/api-keys", {"name": "k", "scopes": ["profile:read"], "rate_limit": "2/d"}, format="json"
    ).json()["key"]
    client = bearer_client(key)
    assert [client.get("/api/v1/auth/me").status_code for _ in range(3)] == [200, 200, 429]
    assert owner.get("/api/v1/auth/me").status_code == HTTPStatus.OK  # the user's JWT bucket is separate


def test_rate_limit_hits_are_audited_once_per_window(api_client, settings):
    settings.RATELIMIT_AUTH = "1/d"
    for _ in range(5):
        attempt(api_client, "nobody", ip="192.0.2.7")
    events = AuditEvent.objects.filter(event="ratelimit.exceeded")
    assert events.count() == 1
    assert events.get().details["group"] == "ip:login" and events.get().ip_address == "192.0.2.7"


def test_rate_limits_can_be_switched_off(api_client, settings):
    settings.RATELIMIT_AUTH = "1/d"
    settings.RATELIMIT_ENABLE = False
    assert all(attempt(api_client, "nobody", ip="192.0.2.8").status_code == 401 for _ in range(3))


# --- Client IP ----------------------------------------------------------------------


def test_forwarded_for_is_ignored_without_trusted_proxies(api_client, settings):
    settings.RATELIMIT_AUTH = "2/d"
    for spoof in ("1.1.1.1", "2.2.2.2"):
        attempt(api_client, "nobody", ip="192.0.2.20", HTTP_X_FORWARDED_FOR=spoof)
    assert attempt(api_client, "nobody", ip="192.0.2.20", HTTP_X_FORWARDED_FOR="3.3.3.3").status_code == 429


def test_trusted_proxy_hop_is_the_client_and_prepending_does_not_help(api_client, settings):
    settings.RATELIMIT_AUTH = "2/d"
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = "10.0.0.1"
    for forged in ("9.9.9.9, 198.51.100.77", "8.8.8.8, 198.51.100.77"):
        attempt(api_client, "nobody", ip=proxy, HTTP_X_FORWARDED_FOR=forged)
    assert (
        attempt(api_client, "nobody", ip=proxy, HTTP_X_FORWARDED_FOR="7.7.7.7,198.51.100.77").status_code
        == 429
    )
    # A different real client behind the same proxy is its own bucket.
    assert attempt(api_client, "nobody", ip=proxy, HTTP_X_FORWARDED_FOR="198.51.100.78").status_code == 401
    event = AuditEvent.objects.filter(event="auth.login_failed").order_by("-seq").first()
    assert event.ip_address == "198.51.100.78"


def test_admin_login_form_lockout_is_a_page_not_a_stack_trace(client, admin_user):
    for _ in range(5):
        response = client.post(
            "/admin/login/", {"username": "root", "password": WRONG}, REMOTE_ADDR="192.0.2.30"
        )
    assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert b"Too many failed sign-in attempts" in response.content


def test_admin_login_form_refuses_huge_passwords_without_hashing(client, admin_user, monkeypatch):
    from django.contrib.auth import hashers

    calls = []
    hasher = type(hashers.get_hasher("default"))
    real = hasher.verify
    monkeypatch.setattr(hasher, "verify", lambda self, *a, **k: calls.append(1) or real(self, *a, **k))
    response = client.post(
        "/admin/login/", {"username": "root", "password": "x" * 100_000}, REMOTE_ADDR="192.0.2.31"
    )
    assert response.status_code == HTTPStatus.OK  # the form, with its error
    assert calls == []
