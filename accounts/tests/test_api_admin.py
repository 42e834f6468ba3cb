"""The admin API: every endpoint, and every role that may not use it."""

from datetime import timedelta
from http import HTTPStatus

import pytest
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from accounts.models import Role, Session, User
from accounts.tests.factories import PASSWORD, UserFactory
from accounts.tests.helpers import bearer_client, login
from audit.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _roomy_rates(settings):
    settings.RATELIMIT_AUTH = "1000/m"


@pytest.fixture
def admin(api_client, admin_user):
    return bearer_client(login(api_client, admin_user.username)["access_token"])


def lock(client, username):
    for _ in range(5):
        client.post(
            "/api/v1/auth/login", {"username": username, "password": "wrong words here"}, format="json"
        )


def test_list_users_paginated_with_locked_and_filters(api_client, admin, admin_user, user):
    UserFactory(username="dev1", email="dev1@example.com", role=Role.DEVELOPER)
    UserFactory(username="sleepy", email="sleepy@example.com")
    User.objects.filter(username="sleepy").update(is_active=False)
    lock(api_client, "alice")

    body = admin.get("/api/v1/admin/users").json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 4 and body["next"] is None
    by_name = {u["username"]: u for u in body["results"]}
    assert by_name["alice"]["locked"] is True and by_name["dev1"]["locked"] is False
    assert set(by_name["alice"]) == {
        "mfa_enabled",
        "email_verified",
        "id",
        "username",
        "email",
        "full_name",
        "role",
        "is_active",
        "date_joined",
        "last_login",
        "locked",
    }

    def names(query):
        return sorted(u["username"] for u in admin.get(f"/api/v1/admin/users?{query}").json()["results"])

    assert names("role=developer") == ["dev1"]
    assert names("is_active=false") == ["sleepy"]
    assert names("locked=true") == ["alice"]
    assert names("search=DEV") == ["dev1"]
    assert names("search=example.com&role=admin") == ["root"]


def test_pagination_page_size_up_to_200(admin, db):
    for i in range(7):
        UserFactory(username=f"bulk{i}", email=f"bulk{i}@example.com")
    first = admin.get("/api/v1/admin/users?page_size=3").json()
    assert len(first["results"]) == 3 and first["count"] == 8 and first["next"]
    assert len(admin.get("/api/v1/admin/users?page_size=500").json()["results"]) == 8
    assert admin.get("/api/v1/admin/users?page=99").status_code == HTTPStatus.NOT_FOUND


@pytest.mark.parametrize("query", ["role=king", "is_active=maybe", "locked=2"])
def test_bad_list_filters_are_400(admin, query):
    assert admin.get(f"/api/v1/admin/users?{query}").status_code == HTTPStatus.BAD_REQUEST


def test_get_patch_user(admin, admin_user, user):
    assert admin.get(f"/api/v1/admin/users/{user.pk}").json()["username"] == "alice"
    assert admin.get("/api/v1/admin/users/999999").status_code == HTTPStatus.NOT_FOUND
    tokens = login(admin, "alice")
    response = admin.patch(
        f"/api/v1/admin/users/{user.pk}", {"role": "developer", "full_name": "Alice D"}, format="json"
    )
    assert response.status_code == HTTPStatus.OK
    assert response.json()["role"] == "developer" and response.json()["full_name"] == "Alice D"
    changed = AuditEvent.objects.get(event="user.role_changed")
    assert changed.actor_id == admin_user.pk and changed.actor_kind == "user"
    # Deactivation ends the user's sessions at once.
    assert (
        admin.patch(f"/api/v1/admin/users/{user.pk}", {"is_active": False}, format="json").status_code == 200
    )
    assert bearer_client(tokens["access_token"]).get("/api/v1/auth/me").status_code == HTTPStatus.UNAUTHORIZED


@pytest.mark.parametrize(
    "body", [{"role": "emperor"}, {"email": "x@example.com"}, {"password": "x"}, {"is_active": "perhaps"}]
)
def test_patch_rejects_bad_or_unknown_fields(admin, user, body):
    response = admin.patch(f"/api/v1/admin/users/{user.pk}", body, format="json")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    user.refresh_from_db()
    assert user.role == Role.USER and user.is_active


def test_last_active_admin_cannot_be_demoted_deactivated_or_deleted(admin, admin_user):
    for body in ({"role": "user"}, {"is_active": False}):
        response = admin.patch(f"/api/v1/admin/users/{admin_user.pk}", body, format="json")
        assert response.status_code == HTTPStatus.CONFLICT
        assert response.json()["code"] == "conflict"
    assert admin.delete(f"/api/v1/admin/users/{admin_user.pk}").status_code == HTTPStatus.CONFLICT
    admin_user.refresh_from_db()
    assert admin_user.role == Role.ADMIN and admin_user.is_active
    # With a second admin, demoting yourself is allowed.
    UserFactory(username="root2", email="root2@example.com", role=Role.ADMIN)
    assert (
        admin.patch(f"/api/v1/admin/users/{admin_user.pk}", {"role": "user"}, format="json").status_code
        == 200
    )


def test_delete_keeps_the_audit_history_readable(api_client, admin, user):
    login(api_client, "alice")
    assert admin.delete(f"/api/v1/admin/users/{user.pk}").status_code == HTTPStatus.NO_CONTENT
    assert not User.objects.filter(pk=user.pk).exists()
    history = admin.get("/api/v1/admin/audit-logs?user=alice").json()["results"]
    assert {"user.deleted", "auth.login_succeeded", "user.created"} <= {e["event"] for e in history}


def test_revoke_sessions(api_client, admin, user):
    tokens = login(api_client, "alice")
    assert admin.post(f"/api/v1/admin/users/{user.pk}/revoke-sessions").status_code == HTTPStatus.NO_CONTENT
    assert bearer_client(tokens["access_token"]).get("/api/v1/auth/me").status_code == HTTPStatus.UNAUTHORIZED
    assert admin.post("/api/v1/admin/users/999999/revoke-sessions").status_code == HTTPStatus.NOT_FOUND


def test_stats(api_client, admin, user):
    lock(api_client, "alice")
    lock(api_client, "no-such-account")  # locked names that are no account are not counted
    login(api_client, "root")
    stats = admin.get("/api/v1/admin/stats").json()
    assert stats["users"] == {
        "total": 2,
        "by_role": {"admin": 1, "developer": 0, "user": 1, "guest": 0, "service_account": 0},
    }
    assert stats["locked_accounts"] == 1
    assert stats["failed_logins_24h"] == 10
    assert stats["active_sessions"] == 2  # the fixture's login and this one
    assert stats["active_api_keys"] == 0


def test_cleanup_removes_expired_records(api_client, admin, user):
    tokens = login(api_client, "alice")
    api_client.post("/api/v1/auth/refresh", {"refresh_token": tokens["refresh_token"]}, format="json")
    past = timezone.now() - timedelta(days=30)
    OutstandingToken.objects.filter(user=user).update(expires_at=past)
    Session.objects.filter(user=user).update(expires_at=past)
    response = admin.post("/api/v1/admin/cleanup")
    assert response.status_code == HTTPStatus.OK
    counts = response.json()
    assert counts["tokens"] == 2 and counts["sessions"] == 1
    assert set(counts) == {
        "tokens",
        "sessions",
        "mfa_challenges",
        "api_keys",
        "attempts",
        "lockouts",
        "failure_logs",
        "known_addresses",
    }
    assert not Session.objects.filter(user=user).exists()


@pytest.mark.parametrize("role", ["developer", "user", "guest", "service_account"])
@pytest.mark.parametrize(
    "method,path",
    [
        ("get", "/api/v1/admin/users"),
        ("get", "/api/v1/admin/users/1"),
        ("patch", "/api/v1/admin/users/1"),
        ("delete", "/api/v1/admin/users/1"),
        ("post", "/api/v1/admin/users/1/unlock"),
        ("post", "/api/v1/admin/users/1/revoke-sessions"),
        ("get", "/api/v1/admin/stats"),
        ("post", "/api/v1/admin/cleanup"),
        ("get", "/api/v1/admin/audit-logs"),
    ],
)
def test_other_roles_get_403(api_client, admin_user, role, method, path):
    UserFactory(username=f"r-{role}", email=f"{role}@example.com", role=role)
    client = bearer_client(login(api_client, f"r-{role}", PASSWORD)["access_token"])
    response = getattr(client, method)(path, {"role": "admin"}, format="json")
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert response.json()["code"] == "permission_denied"
    assert User.objects.get(username=f"r-{role}").role == role


def test_admin_keys_need_the_right_admin_scope(api_client, admin, user):
    read_key = admin.post("/api/v1/api-keys", {"name": "ro", "scopes": ["admin:read"]}, format="json").json()[
        "key"
    ]
    client = bearer_client(read_key)
    assert client.get("/api/v1/admin/users").status_code == HTTPStatus.OK
    assert client.get("/api/v1/admin/stats").status_code == HTTPStatus.OK
    assert client.patch(f"/api/v1/admin/users/{user.pk}", {"role": "guest"}, format="json").status_code == 403
    write_key = admin.post(
        "/api/v1/api-keys", {"name": "rw", "scopes": ["admin:write"]}, format="json"
    ).json()["key"]
    assert (
        bearer_client(write_key)
        .patch(f"/api/v1/admin/users/{user.pk}", {"role": "guest"}, format="json")
        .status_code
        == 200
    )
    assert AuditEvent.objects.filter(event="user.role_changed").get().actor_kind == "api_key"
