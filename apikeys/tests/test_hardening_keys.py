"""Issue 12 (hardening), the API-key findings: one test per finding, named after it."""

from http import HTTPStatus

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.core import mail
from django.test import override_settings
from django.utils.http import urlsafe_base64_encode
from rest_framework.test import APIClient

from accounts.models import Role
from accounts.services.users import user_set_role
from accounts.tests.factories import PASSWORD, UserFactory
from accounts.tests.helpers import bearer_client, login
from apikeys import cache as key_cache
from apikeys.models import APIKey
from audit.models import AuditEvent

pytestmark = pytest.mark.django_db
NEW_PASSWORD = "a brand new passphrase 2026"


def key_client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=key)
    return client


def create_key(client, **body) -> dict:
    payload = {"name": "ci", "scopes": ["profile:read", "keys:write", "keys:read"], **body}
    response = client.post("/api/v1/api-keys", payload, format="json")
    assert response.status_code == HTTPStatus.CREATED, response.content
    return response.json()


def works(key: str) -> bool:
    return key_client(key).get("/api/v1/auth/me").status_code == HTTPStatus.OK


def revoked_events(user_id: int) -> list[dict]:
    return [
        e.details
        for e in AuditEvent.objects.filter(event="apikey.revoked", target_ref=user_id).order_by("seq")
    ]


# --- 2. API keys outlive account recovery --------------------------------------------------


def test_finding2_password_reset_revokes_every_api_key_of_the_user_for_good(auth_client, user):
    keys = [create_key(auth_client, name=f"k{i}")["key"] for i in range(2)]
    assert all(works(k) for k in keys)
    user.refresh_from_db()  # the login changed last_login, which the reset token covers
    response = APIClient().post(
        "/api/v1/auth/password-reset/confirm",
        {
            "uid": urlsafe_base64_encode(str(user.pk).encode()),
            "token": default_token_generator.make_token(user),
            "new_password": NEW_PASSWORD,
        },
        format="json",
    )
    assert response.status_code == HTTPStatus.NO_CONTENT
    assert not any(works(k) for k in keys)
    assert APIKey.objects.filter(owner=user, revoked_at__isnull=True).count() == 0
    assert APIKey.objects.filter(owner=user).count() == 2  # the records stay
    assert {d["reason"] for d in revoked_events(user.pk)} == {"password_reset"}


def test_finding2_deactivation_revokes_keys_and_reactivation_brings_none_back(auth_client, user, admin_user):
    key = create_key(auth_client)["key"]
    admin = bearer_client(login(APIClient(), admin_user.username)["access_token"])
    assert (
        admin.patch(f"/api/v1/admin/users/{user.pk}", {"is_active": False}, format="json").status_code == 200
    )
    assert (
        admin.patch(f"/api/v1/admin/users/{user.pk}", {"is_active": True}, format="json").status_code == 200
    )
    assert not works(key)
    assert APIKey.objects.get(owner=user).revoked_at is not None
    assert [d["reason"] for d in revoked_events(user.pk)] == ["deactivated"]


def test_finding2_deletion_revokes_and_audits_every_key(auth_client, user, admin_user):
    key = create_key(auth_client)["key"]
    prefix = key.split("_")[1]
    admin = bearer_client(login(APIClient(), admin_user.username)["access_token"])
    assert admin.delete(f"/api/v1/admin/users/{user.pk}").status_code == HTTPStatus.NO_CONTENT
    assert not works(key)
    events = AuditEvent.objects.filter(event="apikey.revoked", target_label="alice")
    assert [(e.details["prefix"], e.details["reason"]) for e in events] == [(prefix, "deleted")]


def test_finding2_change_password_revokes_keys_only_when_asked(auth_client, user):
    key = create_key(auth_client)["key"]
    body = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    response = auth_client.post("/api/v1/auth/change-password", body, format="json")
    assert response.status_code == HTTPStatus.OK
    assert works(key)

    client = bearer_client(response.json()["access_token"])
    body = {"current_password": NEW_PASSWORD, "new_password": PASSWORD + " again", "revoke_api_keys": True}
    assert client.post("/api/v1/auth/change-password", body, format="json").status_code == HTTPStatus.OK
    assert not works(key)
    assert [d["reason"] for d in revoked_events(user.pk)] == ["password_change"]


def test_finding2_revoking_a_key_revokes_the_keys_it_minted_through_every_generation(auth_client, user):
    parent = create_key(auth_client, name="parent")
    child = create_key(key_client(parent["key"]), name="child")
    grandchild = create_key(key_client(child["key"]), name="grandchild")
    unrelated = create_key(auth_client, name="unrelated")
    assert APIKey.objects.get(pk=child["id"]).created_by_key_id == parent["id"]

    assert auth_client.delete(f"/api/v1/api-keys/{parent['id']}").status_code == HTTPStatus.NO_CONTENT

    assert not any(works(k["key"]) for k in (parent, child, grandchild))
    assert works(unrelated["key"])
    reasons = {d["key_id"]: d["reason"] for d in revoked_events(user.pk)}
    assert reasons == {
        parent["id"]: "owner",
        child["id"]: "parent_revoked",
        grandchild["id"]: "parent_revoked",
    }


def test_finding2_creating_a_key_mails_its_owner(auth_client, user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        create_key(auth_client, name="deploy bot", scopes=["profile:read"])
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [user.email]
    assert "deploy bot" in message.body
    assert "profile:read" in message.body
    assert "127.0.0.1" in message.body


# --- 7. Stale power after a role change (key state) -------------------------------------------


def test_finding7_a_key_reader_that_loaded_the_old_owner_before_the_commit_cannot_republish_it(
    admin_user, monkeypatch, django_capture_on_commit_callbacks
):
    UserFactory(username="other-admin", email="other@example.com", role=Role.ADMIN)
    admin = bearer_client(login(APIClient(), admin_user.username)["access_token"])
    key = create_key(admin, scopes=["admin:read", "profile:read"])["key"]
    from django.core.cache import cache

    cache.clear()
    original = key_cache.cache_call
    demoted = []

    def reader_fills_after_the_demotion_committed(method, *args, **kwargs):
        if not demoted and method in ("add", "set") and str(args[0]).startswith("apikey:"):
            demoted.append(True)
            with django_capture_on_commit_callbacks(execute=True):
                user_set_role(user_id=admin_user.pk, role=Role.USER)
        return original(method, *args, **kwargs)

    monkeypatch.setattr(key_cache, "cache_call", reader_fills_after_the_demotion_committed)
    assert key_client(key).get("/api/v1/auth/me").status_code == HTTPStatus.OK
    assert demoted
    monkeypatch.setattr(key_cache, "cache_call", original)

    assert key_client(key).get("/api/v1/admin/users").status_code == HTTPStatus.FORBIDDEN


# --- 8. Key rate limits are not bounded by the owner's current role, nor shared ----------------


def test_finding8_tokens_and_every_key_of_a_user_share_one_budget(auth_client, settings):
    settings.RATELIMIT_BY_ROLE = {**settings.RATELIMIT_BY_ROLE, "user": "4/h"}
    first, second = create_key(auth_client, name="a")["key"], create_key(auth_client, name="b")["key"]
    answers = [
        auth_client.get("/api/v1/auth/me").status_code,
        key_client(first).get("/api/v1/auth/me").status_code,
        key_client(second).get("/api/v1/auth/me").status_code,
    ]
    # The two creations and these three requests: five on a budget of four.
    assert answers == [HTTPStatus.OK, HTTPStatus.OK, HTTPStatus.TOO_MANY_REQUESTS]
    assert key_client(first).get("/api/v1/auth/me").status_code == HTTPStatus.TOO_MANY_REQUESTS


def test_finding8_a_keys_rate_is_rebounded_by_its_owners_current_role(settings):
    settings.RATELIMIT_BY_ROLE = {**settings.RATELIMIT_BY_ROLE, "service_account": "5000/h", "guest": "2/h"}
    robot = UserFactory(username="robot", email="robot@example.com", role=Role.SERVICE_ACCOUNT)
    from apikeys.tests.factories import api_key_create

    _, key = api_key_create(robot, rate_limit="4000/h")
    user_set_role(user_id=robot.pk, role=Role.GUEST)
    answers = [key_client(key).get("/api/v1/auth/me").status_code for _ in range(3)]
    assert answers == [HTTPStatus.OK, HTTPStatus.OK, HTTPStatus.TOO_MANY_REQUESTS]


@override_settings(RATELIMIT_ENABLE=True)
def test_finding8_a_keys_own_lower_rate_still_applies_within_the_shared_budget(auth_client, settings):
    settings.RATELIMIT_BY_ROLE = {**settings.RATELIMIT_BY_ROLE, "user": "100/h"}
    key = create_key(auth_client, rate_limit="2/h")["key"]
    answers = [key_client(key).get("/api/v1/auth/me").status_code for _ in range(3)]
    assert answers == [HTTPStatus.OK, HTTPStatus.OK, HTTPStatus.TOO_MANY_REQUESTS]
    assert auth_client.get("/api/v1/auth/me").status_code == HTTPStatus.OK
