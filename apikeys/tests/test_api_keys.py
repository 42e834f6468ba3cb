"""API keys as programs and their owners use them."""

import io
from datetime import timedelta
from http import HTTPStatus

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Role
from accounts.services.users import user_set_active, user_set_role
from accounts.tests.factories import UserFactory
from accounts.tests.helpers import bearer_client, login, staff_login
from apikeys.models import APIKey
from audit.models import AuditEvent

pytestmark = pytest.mark.django_db
ALL_SELF_SERVICE = ["profile:read", "profile:write", "keys:read", "keys:write"]


def create_key(client, **body) -> dict:
    payload = {"name": "ci", "scopes": ["profile:read"], **body}
    response = client.post("/api/v1/api-keys", payload, format="json")
    assert response.status_code == HTTPStatus.CREATED, response.content
    return response.json()


def key_client(key: str, header: str = "x-api-key") -> APIClient:
    client = APIClient()
    if header == "x-api-key":
        client.credentials(HTTP_X_API_KEY=key)
    else:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def test_create_shows_the_key_once_and_stores_only_a_keyed_hash(auth_client, user):
    created = create_key(auth_client, scopes=["profile:read", "keys:read"], rate_limit="100/h")
    key = created["key"]
    prefix = created["prefix"]
    assert key.startswith(f"gk_{prefix}_") and key.count(".") == 0
    assert len(key.split("_", 2)[2]) >= 43  # 32 random bytes, URL-safe
    assert set(created) == {
        "id",
        "name",
        "prefix",
        "scopes",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
        "rate_limit",
        "key",
    }
    assert created["scopes"] == ["keys:read", "profile:read"] and created["rate_limit"] == "100/h"

    secret = key.split("_", 2)[2]
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM apikeys_apikey")
        table = repr(cursor.fetchall())
        cursor.execute("SELECT details, target_label, actor_label FROM audit_auditevent")
        audit = repr(cursor.fetchall())
    assert secret not in table and key not in table
    assert secret not in audit and key not in audit
    row = APIKey.objects.get()
    assert len(row.secret_hash) == 64 and row.secret_hash != secret

    listed = auth_client.get("/api/v1/api-keys").json()
    assert [k["prefix"] for k in listed] == [prefix] and "key" not in listed[0]
    one = auth_client.get(f"/api/v1/api-keys/{created['id']}/").json()
    assert one["prefix"] == prefix and "key" not in one
    assert AuditEvent.objects.filter(event="apikey.created", target_user=user).count() == 1


@pytest.mark.parametrize("header", ["x-api-key", "bearer"])
def test_key_authenticates_as_its_owner(auth_client, user, header):
    key = create_key(auth_client)["key"]
    me = key_client(key, header).get("/api/v1/auth/me")
    assert me.status_code == HTTPStatus.OK
    assert me.json()["username"] == "alice"


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "gk_",
        "gk_abc",
        "gk_zzzzzzzzzzzz_secret",
        "gk_0123456789ab_wrongsecret",
        "nonsense",
        "gk_" + "a" * 500,
    ],
)
def test_garbage_and_unknown_keys_are_401(raw):
    response = key_client(raw).get("/api/v1/auth/me")
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json()["code"] in {"token_not_valid", "not_authenticated"}


def test_tampered_secret_is_401(auth_client):
    key = create_key(auth_client)["key"]
    tampered = key[:-1] + ("A" if key[-1] != "A" else "B")
    response = key_client(tampered).get("/api/v1/auth/me")
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json() == {"detail": "The API key is not valid.", "code": "token_not_valid"}


def test_revoked_key_fails_at_once_even_with_a_warm_cache(auth_client):
    created = create_key(auth_client)
    client = key_client(created["key"])
    assert client.get("/api/v1/auth/me").status_code == HTTPStatus.OK  # warms the cache
    assert auth_client.delete(f"/api/v1/api-keys/{created['id']}").status_code == HTTPStatus.NO_CONTENT
    response = client.get("/api/v1/auth/me")
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json()["code"] == "token_revoked"
    record = auth_client.get(f"/api/v1/api-keys/{created['id']}").json()
    assert record["revoked_at"] is not None
    cache.clear()
    assert client.get("/api/v1/auth/me").status_code == HTTPStatus.UNAUTHORIZED


def test_expired_key_fails(auth_client):
    created = create_key(auth_client, expires_in_days=1)
    client = key_client(created["key"])
    assert client.get("/api/v1/auth/me").status_code == HTTPStatus.OK
    APIKey.objects.filter(pk=created["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    cache.clear()
    response = client.get("/api/v1/auth/me")
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json()["code"] == "token_expired"


def test_default_expiry_is_90_days(auth_client):
    created = APIKey.objects.get(pk=create_key(auth_client)["id"])
    assert timedelta(days=89) < created.expires_at - timezone.now() <= timedelta(days=90)


def test_profile_read_key_cannot_patch_me_or_touch_keys(auth_client):
    client = key_client(create_key(auth_client, scopes=["profile:read"])["key"])
    patch = client.patch("/api/v1/auth/me", {"full_name": "Mallory"}, format="json")
    assert patch.status_code == HTTPStatus.FORBIDDEN
    assert patch.json()["code"] == "permission_denied"
    assert client.get("/api/v1/api-keys").status_code == HTTPStatus.FORBIDDEN
    assert (
        client.post("/api/v1/api-keys", {"name": "x", "scopes": ["profile:read"]}, format="json").status_code
        == HTTPStatus.FORBIDDEN
    )


def test_keys_write_key_can_manage_keys(auth_client):
    manager = key_client(create_key(auth_client, scopes=["keys:read", "keys:write", "profile:read"])["key"])
    made = manager.post("/api/v1/api-keys", {"name": "child", "scopes": ["profile:read"]}, format="json")
    assert made.status_code == HTTPStatus.CREATED
    assert len(manager.get("/api/v1/api-keys").json()) == 2
    assert manager.delete(f"/api/v1/api-keys/{made.json()['id']}").status_code == HTTPStatus.NO_CONTENT
    created_event = AuditEvent.objects.filter(event="apikey.created").order_by("-seq").first()
    assert created_event.actor_kind == "api_key" and "(key " in created_event.actor_label


def test_a_key_cannot_change_the_password(auth_client, password):
    client = key_client(create_key(auth_client, scopes=ALL_SELF_SERVICE)["key"])
    response = client.post(
        "/api/v1/auth/change-password",
        {"current_password": password, "new_password": "stolen key new passphrase"},
        format="json",
    )
    assert response.status_code == HTTPStatus.FORBIDDEN


@pytest.mark.parametrize(
    "body,field",
    [
        ({"scopes": ["profile:read", "root:all"]}, "scopes"),
        ({"scopes": []}, "scopes"),
        ({"scopes": ["admin:read"]}, "scopes"),
        ({"scopes": "profile:read"}, "scopes"),
        ({"name": ""}, "name"),
        ({"rate_limit": "lots"}, "rate_limit"),
        ({"rate_limit": "0/h"}, "rate_limit"),
        ({"expires_in_days": 0}, "expires_in_days"),
        ({"expires_in_days": 99999}, "expires_in_days"),
    ],
)
def test_bad_key_requests_are_400(auth_client, body, field):
    response = auth_client.post(
        "/api/v1/api-keys", {"name": "ci", "scopes": ["profile:read"], **body}, format="json"
    )
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert field in response.json()["errors"]
    assert not APIKey.objects.exists()


def test_admin_scopes_only_for_admins_and_lost_with_the_role(api_client, admin_user):
    admin_client = bearer_client(login(api_client, admin_user.username)["access_token"])
    key = create_key(admin_client, scopes=["admin:read", "profile:read"])["key"]
    client = key_client(key)
    assert client.get("/api/v1/admin/audit-logs").status_code == HTTPStatus.OK
    UserFactory(username="second-admin", email="second@example.com", role=Role.ADMIN)
    user_set_role(user_id=admin_user.pk, role=Role.DEVELOPER)
    # The key keeps its scopes on paper but never exceeds the owner's role.
    assert client.get("/api/v1/admin/audit-logs").status_code == HTTPStatus.FORBIDDEN
    assert client.get("/api/v1/auth/me").json()["role"] == "developer"


def test_deactivated_owner_key_stops_working(auth_client, user):
    client = key_client(create_key(auth_client)["key"])
    assert client.get("/api/v1/auth/me").status_code == HTTPStatus.OK
    user_set_active(user_id=user.pk, is_active=False)
    assert client.get("/api/v1/auth/me").status_code == HTTPStatus.UNAUTHORIZED


def test_another_users_key_is_404(api_client, auth_client):
    created = create_key(auth_client)
    UserFactory(username="bob", email="bob@example.com")
    bob = bearer_client(login(api_client, "bob")["access_token"])
    assert bob.get(f"/api/v1/api-keys/{created['id']}").status_code == HTTPStatus.NOT_FOUND
    assert bob.delete(f"/api/v1/api-keys/{created['id']}").status_code == HTTPStatus.NOT_FOUND
    assert bob.get("/api/v1/api-keys").json() == []
    assert APIKey.objects.get().revoked_at is None


def test_last_used_is_written_at_most_once_a_minute(auth_client, django_assert_num_queries):
    created = create_key(auth_client)
    client = key_client(created["key"])
    with django_assert_num_queries(2):  # cold: one indexed lookup, one last_used_at write
        assert client.get("/api/v1/auth/me").status_code == HTTPStatus.OK
    with django_assert_num_queries(0):  # warm: no query at all
        for _ in range(5):
            assert client.get("/api/v1/auth/me").status_code == HTTPStatus.OK
    first_use = APIKey.objects.get().last_used_at
    assert first_use is not None
    cache.clear()
    with django_assert_num_queries(1):  # refilled within the minute: lookup only, no write
        client.get("/api/v1/auth/me")
    assert APIKey.objects.get().last_used_at == first_use


def test_service_account_lives_on_keys_end_to_end(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    call_command(
        "create_user",
        "robot",
        "--email",
        "robot@example.com",
        "--role",
        "service_account",
        stdout=io.StringIO(),
    )
    out = io.StringIO()
    call_command(
        "create_api_key",
        "robot",
        "--name",
        "deploy",
        "--scope",
        "profile:read",
        "--scope",
        "keys:read",
        "--expires-in-days",
        "30",
        "--rate-limit",
        "1000/h",
        stdout=out,
    )
    key = out.getvalue().split("Key (shown once, store it now): ")[1].strip()
    me = key_client(key).get("/api/v1/auth/me")
    assert me.status_code == HTTPStatus.OK and me.json()["role"] == "service_account"
    assert key_client(key, "bearer").get("/api/v1/api-keys").json()[0]["rate_limit"] == "1000/h"

    listing = io.StringIO()
    call_command("list_api_keys", "robot", stdout=listing)
    prefix = key.split("_")[1]
    assert prefix in listing.getvalue() and key.split("_", 2)[2] not in listing.getvalue()
    assert "active" in listing.getvalue()

    revoked = io.StringIO()
    call_command("revoke_api_key", prefix, stdout=revoked)
    assert f"Revoked key {prefix} of robot" in revoked.getvalue()
    assert key_client(key).get("/api/v1/auth/me").status_code == HTTPStatus.UNAUTHORIZED
    event = AuditEvent.objects.filter(event="apikey.revoked").get()
    assert event.actor_kind == "operator"


@pytest.mark.parametrize(
    "args,message",
    [
        (["ghost", "--name", "x", "--scope", "profile:read"], "no user named 'ghost'"),
        (["alice", "--name", "x", "--scope", "root"], "scopes: Unknown scope: root."),
        (
            ["alice", "--name", "x", "--scope", "admin:write"],
            "scopes: Your role does not allow the scope admin:write.",
        ),
        (["alice", "--name", "x", "--scope", "profile:read", "--rate-limit", "fast"], "rate_limit:"),
    ],
)
def test_create_api_key_errors_are_one_line(user, args, message):
    with pytest.raises(CommandError) as excinfo:
        call_command("create_api_key", *args)
    assert message in str(excinfo.value) and "\n" not in str(excinfo.value)


def test_revoke_unknown_prefix_is_an_error(db):
    with pytest.raises(CommandError, match="no API key with prefix 'abcdef012345'"):
        call_command("revoke_api_key", "abcdef012345")


def test_admin_lists_searches_and_revokes_without_showing_secrets(client, admin_user, auth_client):
    created = create_key(auth_client)
    staff_login(client, admin_user)
    page = client.get(f"/admin/apikeys/apikey/?q={created['prefix']}")
    assert page.status_code == HTTPStatus.OK and page.context["cl"].result_count == 1
    assert client.get("/admin/apikeys/apikey/?q=alice").context["cl"].result_count == 1
    detail = client.get(f"/admin/apikeys/apikey/{created['id']}/change/")
    secret = created["key"].split("_", 2)[2]
    row = APIKey.objects.get()
    assert secret.encode() not in detail.content and row.secret_hash.encode() not in detail.content
    response = client.post(
        "/admin/apikeys/apikey/", {"action": "revoke_selected", "_selected_action": [created["id"]]}
    )
    assert response.status_code == HTTPStatus.FOUND
    assert key_client(created["key"]).get("/api/v1/auth/me").status_code == HTTPStatus.UNAUTHORIZED
    active = client.get("/admin/apikeys/apikey/?state=active")
    assert active.context["cl"].result_count == 0


def test_a_key_cannot_mint_a_stronger_or_longer_lived_key(api_client, admin_user):
    admin = bearer_client(login(api_client, admin_user.username)["access_token"])
    writer = create_key(admin, scopes=["keys:write"], expires_in_days=2)
    client = key_client(writer["key"])
    assert client.get("/api/v1/admin/stats").status_code == HTTPStatus.FORBIDDEN
    stronger = client.post(
        "/api/v1/api-keys", {"name": "x", "scopes": ["admin:read", "admin:write"]}, format="json"
    )
    assert stronger.status_code == HTTPStatus.BAD_REQUEST
    assert "scopes" in stronger.json()["errors"]
    child = client.post(
        "/api/v1/api-keys", {"name": "c", "scopes": ["keys:write"], "expires_in_days": 3650}, format="json"
    )
    assert child.status_code == HTTPStatus.CREATED
    assert child.json()["expires_at"] == writer["expires_at"]  # never outlives its parent


def test_a_key_rate_limit_cannot_exceed_the_owners_role(auth_client, settings):
    settings.RATELIMIT_BY_ROLE = {**settings.RATELIMIT_BY_ROLE, "user": "100/h"}
    too_fast = auth_client.post(
        "/api/v1/api-keys",
        {"name": "x", "scopes": ["profile:read"], "rate_limit": "9999999/s"},
        format="json",
    )
    assert too_fast.status_code == HTTPStatus.BAD_REQUEST
    assert too_fast.json()["errors"]["rate_limit"] == [
        "A key's rate limit cannot exceed its owner's role limit (100/h)."
    ]
    assert create_key(auth_client, rate_limit="1/m")["rate_limit"] == "1/m"
    assert create_key(auth_client, rate_limit="100/h")["rate_limit"] == "100/h"
