"""POST /api/v1/auth/introspect (RFC 7662) as a resource server uses it."""

import logging
from datetime import timedelta
from http import HTTPStatus
from unittest import mock

import pytest
from django.core.cache import cache
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.settings import api_settings as jwt_settings

from accounts.models import Role, Session
from accounts.services.users import user_set_active, user_set_role
from accounts.tests.factories import UserFactory
from accounts.tests.helpers import bearer_client, login
from apikeys.api.introspect import INTROSPECTION_FORBIDDEN, TOKEN_NOT_STRING, TOKEN_REQUIRED
from apikeys.models import APIKey
from apikeys.services import apikey_create, apikey_revoke_for_owner
from audit.models import AuditEvent

pytestmark = pytest.mark.django_db
URL = "/api/v1/auth/introspect"
ACCESS_FIELDS = {
    "active",
    "token_type",
    "sub",
    "username",
    "role",
    "scope",
    "exp",
    "iat",
    "iss",
    "aud",
    "sid",
}
KEY_FIELDS = ACCESS_FIELDS - {"sid"} | {"key_prefix"}


@pytest.fixture
def service(db):
    return UserFactory(username="inference", email="inference@example.com", role=Role.SERVICE_ACCOUNT)


@pytest.fixture
def introspector(service) -> APIClient:
    """A resource server: its service account's key with tokens:introspect."""
    _key, full_key = apikey_create(owner=service, name="inference api", scopes=["tokens:introspect"])
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=full_key)
    return client


def introspect(client: APIClient, token, **extra) -> dict:
    response = client.post(URL, {"token": token, **extra}, format="json")
    assert response.status_code == HTTPStatus.OK, response.content
    return response.json()


def test_an_active_access_token_answers_who_and_what(introspector, tokens, user):
    before = int(timezone.now().timestamp())
    body = introspect(introspector, tokens["access_token"])
    assert set(body) == ACCESS_FIELDS
    assert body["active"] is True and body["token_type"] == "access_token"
    assert body["sub"] == str(user.pk) and body["username"] == "alice" and body["role"] == "user"
    assert body["scope"] == "keys:read keys:write profile:read profile:write"
    assert body["iss"] == jwt_settings.ISSUER and body["aud"] == jwt_settings.AUDIENCE
    assert isinstance(body["exp"], int) and isinstance(body["iat"], int)
    assert body["exp"] - body["iat"] == 900 and abs(body["iat"] - before) <= 2
    assert body["sid"] == str(Session.objects.get(user=user).pk)


def test_an_active_api_key_answers_its_owner_and_its_scopes_within_the_role(introspector, user):
    key, full_key = apikey_create(owner=user, name="laptop", scopes=["profile:read", "keys:read"])
    body = introspect(introspector, full_key)
    assert set(body) == KEY_FIELDS
    assert body["active"] is True and body["token_type"] == "api_key"
    assert body["sub"] == str(user.pk) and body["username"] == "alice" and body["role"] == "user"
    assert body["scope"] == "keys:read profile:read"
    assert body["key_prefix"] == key.prefix
    assert body["iat"] == int(key.created_at.timestamp()) and body["exp"] == int(key.expires_at.timestamp())
    assert body["iss"] == jwt_settings.ISSUER and body["aud"] == jwt_settings.AUDIENCE
    # A demoted owner's key keeps only what the new role allows.
    user_set_role(user_id=user.pk, role=Role.GUEST)
    assert introspect(introspector, full_key)["scope"] == "keys:read profile:read"
    user_set_role(user_id=user.pk, role=Role.USER)
    key2, full_key2 = apikey_create(owner=user, name="w", scopes=["keys:write", "profile:read"])
    user_set_role(user_id=user.pk, role=Role.GUEST)
    assert introspect(introspector, full_key2)["scope"] == "profile:read"


def test_a_key_may_introspect_itself_and_a_hint_is_only_checked_to_be_known(introspector, service):
    key, full_key = apikey_create(owner=service, name="self", scopes=["tokens:introspect", "profile:read"])
    body = introspect(introspector, full_key, token_type_hint="access_token")
    assert body["active"] is True and body["scope"] == "profile:read tokens:introspect"
    assert introspect(introspector, full_key, token_type_hint="api_key")["active"] is True
    assert introspect(introspector, full_key, token_type_hint="")["active"] is True


def test_a_revoked_session_is_inactive_at_once(introspector, tokens, auth_client):
    assert introspect(introspector, tokens["access_token"])["active"] is True
    assert auth_client.post("/api/v1/auth/logout", format="json").status_code == HTTPStatus.NO_CONTENT
    assert introspect(introspector, tokens["access_token"]) == {"active": False}


def test_a_revoked_key_is_inactive_at_once(introspector, user):
    key, full_key = apikey_create(owner=user, name="leaked", scopes=["profile:read"])
    assert introspect(introspector, full_key)["active"] is True
    apikey_revoke_for_owner(owner_id=user.pk, key_id=key.pk)
    assert introspect(introspector, full_key) == {"active": False}


def test_expired_access_tokens_and_keys_are_inactive(introspector, api_client, user):
    an_hour_ago = timezone.now() - timedelta(hours=1)
    with mock.patch("rest_framework_simplejwt.tokens.aware_utcnow", return_value=an_hour_ago):
        stale = login(api_client, "alice")
    assert introspect(introspector, stale["access_token"]) == {"active": False}
    key, full_key = apikey_create(owner=user, name="old", scopes=["profile:read"])
    APIKey.objects.filter(pk=key.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    cache.clear()
    assert introspect(introspector, full_key) == {"active": False}


def test_a_deactivated_owner_makes_tokens_and_keys_inactive(introspector, tokens, user):
    _key, full_key = apikey_create(owner=user, name="k", scopes=["profile:read"])
    assert introspect(introspector, full_key)["active"] is True
    user_set_active(user_id=user.pk, is_active=False)
    assert introspect(introspector, tokens["access_token"]) == {"active": False}
    assert introspect(introspector, full_key) == {"active": False}


@pytest.mark.parametrize(
    "token",
    [
        "not a token",
        "a.b.c",
        "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.",
        "gk_",
        "gk_zzzzzzzzzzzz_secret",
        "gk_0123456789ab_no-such-key-secret-at-all-0000000000000",
        "x" * 9000,
        "gk_" + "a" * 9000,
        "\u00e9\u00e9.\u00e9.\u00e9",
    ],
)
def test_malformed_or_unknown_tokens_are_inactive(introspector, token):
    assert introspect(introspector, token) == {"active": False}


def test_a_key_with_a_wrong_secret_or_a_tampered_jwt_is_inactive(introspector, tokens, user):
    _key, full_key = apikey_create(owner=user, name="k", scopes=["profile:read"])
    assert introspect(introspector, full_key[:-4] + "AAAA") == {"active": False}
    header, payload, signature = tokens["access_token"].split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    assert introspect(introspector, f"{header}.{payload}.{flipped}") == {"active": False}


def test_a_refresh_token_is_inactive(introspector, tokens):
    assert introspect(introspector, tokens["refresh_token"]) == {"active": False}
    assert introspect(introspector, tokens["refresh_token"], token_type_hint="refresh_token") == {
        "active": False
    }


@pytest.mark.parametrize("hint", ["id_token", "ACCESS_TOKEN", 7, ["access_token"], {"a": 1}])
def test_an_unknown_hint_is_inactive_even_for_a_good_token(introspector, tokens, hint):
    assert introspect(introspector, tokens["access_token"], token_type_hint=hint) == {"active": False}


def test_the_inactive_answer_has_exactly_one_field(introspector):
    response = introspector.post(URL, {"token": "nope"}, format="json")
    assert response.content == b'{"active":false}'
    assert response["Cache-Control"] == "no-store"


def test_a_form_encoded_body_works(introspector, tokens):
    response = introspector.post(
        URL,
        f"token={tokens['access_token']}&token_type_hint=access_token",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == HTTPStatus.OK
    assert response.json()["active"] is True and response.json()["username"] == "alice"
    response = introspector.post(URL, "token=nope", content_type="application/x-www-form-urlencoded")
    assert response.json() == {"active": False}


def test_a_json_body_works_and_the_caller_can_use_bearer_for_its_key(service, tokens):
    _key, full_key = apikey_create(owner=service, name="rs", scopes=["tokens:introspect"])
    response = bearer_client(full_key).post(URL, {"token": tokens["access_token"]}, format="json")
    assert response.status_code == HTTPStatus.OK and response.json()["active"] is True


@pytest.mark.parametrize(
    ("body", "message"),
    [({}, TOKEN_REQUIRED), ({"token": ""}, TOKEN_REQUIRED), ({"token": 12}, TOKEN_NOT_STRING)],
)
def test_a_missing_or_empty_token_is_a_400(introspector, body, message):
    response = introspector.post(URL, body, format="json")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json() == {
        "detail": "The request is not valid.",
        "code": "validation_error",
        "errors": {"token": [message]},
    }
    empty_form = introspector.post(URL, "token=", content_type="application/x-www-form-urlencoded")
    assert empty_form.status_code == HTTPStatus.BAD_REQUEST
    not_an_object = introspector.post(URL, "[1]", content_type="application/json")
    assert not_an_object.status_code == HTTPStatus.BAD_REQUEST


def test_malformed_json_and_other_media_types_answer_in_the_error_shape(introspector):
    response = introspector.post(URL, "{", content_type="application/json")
    assert response.status_code == HTTPStatus.BAD_REQUEST and response.json()["code"] == "parse_error"
    response = introspector.post(URL, "token", content_type="text/plain")
    assert response.status_code == HTTPStatus.UNSUPPORTED_MEDIA_TYPE


def test_no_caller_credentials_is_a_401(api_client, tokens):
    response = api_client.post(URL, {"token": tokens["access_token"]}, format="json")
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json()["code"] == "not_authenticated"


def test_a_bad_caller_key_is_a_401(api_client):
    api_client.credentials(HTTP_X_API_KEY="gk_0123456789ab_wrong")
    response = api_client.post(URL, {"token": "x"}, format="json")
    assert response.status_code == HTTPStatus.UNAUTHORIZED


def test_a_key_without_the_scope_is_a_403(service, tokens):
    _key, full_key = apikey_create(owner=service, name="no scope", scopes=["profile:read"])
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=full_key)
    response = client.post(URL, {"token": tokens["access_token"]}, format="json")
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert response.json() == {"detail": INTROSPECTION_FORBIDDEN, "code": "permission_denied"}


def test_an_access_token_never_introspects_not_even_an_admins(api_client, admin_user, tokens):
    admin_access = login(api_client, "root")["access_token"]
    response = bearer_client(admin_access).post(URL, {"token": tokens["access_token"]}, format="json")
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert response.json()["code"] == "permission_denied"


def test_an_admins_key_may_introspect(admin_user, tokens):
    _key, full_key = apikey_create(owner=admin_user, name="admin rs", scopes=["tokens:introspect"])
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=full_key)
    assert introspect(client, tokens["access_token"])["active"] is True


def test_a_demoted_service_account_loses_introspection_at_once(introspector, service, tokens):
    assert introspect(introspector, tokens["access_token"])["active"] is True
    user_set_role(user_id=service.pk, role=Role.USER)
    response = introspector.post(URL, {"token": tokens["access_token"]}, format="json")
    assert response.status_code == HTTPStatus.FORBIDDEN


@pytest.mark.parametrize("role", [Role.USER, Role.DEVELOPER])
def test_only_service_accounts_and_admins_may_hold_the_scope(api_client, role):
    UserFactory(username="someone", email="someone@example.com", role=role)
    client = bearer_client(login(api_client, "someone")["access_token"])
    response = client.post("/api/v1/api-keys", {"name": "x", "scopes": ["tokens:introspect"]}, format="json")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["errors"] == {"scopes": ["Your role does not allow the scope tokens:introspect."]}


def test_a_service_account_creates_an_introspection_key_through_the_api(api_client, service):
    client = bearer_client(login(api_client, "inference")["access_token"])
    response = client.post("/api/v1/api-keys", {"name": "rs", "scopes": ["tokens:introspect"]}, format="json")
    assert response.status_code == HTTPStatus.CREATED
    assert response.json()["scopes"] == ["tokens:introspect"]


def test_a_warm_introspection_makes_no_query(introspector, tokens, user, django_assert_num_queries):
    _key, full_key = apikey_create(owner=user, name="k", scopes=["profile:read"])
    introspect(introspector, tokens["access_token"])
    introspect(introspector, full_key)
    with django_assert_num_queries(0):
        assert introspect(introspector, tokens["access_token"])["active"] is True
        assert introspect(introspector, full_key)["active"] is True


def test_introspecting_a_key_touches_last_used_at_no_more_than_using_it(introspector, user):
    key, full_key = apikey_create(owner=user, name="k", scopes=["profile:read"])
    recently = timezone.now() - timedelta(seconds=10)
    APIKey.objects.filter(pk=key.pk).update(last_used_at=recently)
    for _ in range(3):
        introspect(introspector, full_key)
        cache.delete(f"apikey:{key.prefix}")  # even cold, the touch waits for its minute
    assert APIKey.objects.get(pk=key.pk).last_used_at == recently


def test_failed_introspections_leave_no_trace_on_the_caller(introspector, user, caplog):
    before = AuditEvent.objects.count()
    secret_key = "gk_0123456789ab_" + "s" * 43
    with caplog.at_level(logging.DEBUG):
        for _ in range(20):
            assert introspect(introspector, secret_key) == {"active": False}
            assert introspect(introspector, "eyJ.bad.token") == {"active": False}
    assert AuditEvent.objects.count() == before
    assert "s" * 43 not in caplog.text and "eyJ.bad.token" not in caplog.text
    assert introspector.get("/api/v1/auth/me").status_code != HTTPStatus.UNAUTHORIZED


@pytest.mark.parametrize(("path", "body"), [(URL, {"token": "x"}), ("/api/v1/auth/verify", {"token": "x"})])
def test_introspect_and_verify_are_limited_per_ip_at_ratelimit_verify(introspector, settings, path, body):
    settings.RATELIMIT_VERIFY = "3/m"
    for _ in range(3):
        assert introspector.post(path, body, format="json").status_code == HTTPStatus.OK
    response = introspector.post(path, body, format="json")
    assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert response.json()["code"] == "rate_limited" and int(response["Retry-After"]) >= 1
    # Another address has its own budget.
    other = introspector.post(path, body, format="json", REMOTE_ADDR="192.0.2.9")
    assert other.status_code == HTTPStatus.OK


def test_the_schema_documents_introspection_with_both_body_types(api_client):
    schema = api_client.get("/api/schema?format=json").json()
    operation = schema["paths"]["/api/v1/auth/introspect"]["post"]
    assert set(operation["requestBody"]["content"]) == {
        "application/json",
        "application/x-www-form-urlencoded",
    }
    response = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert "$ref" in response or "properties" in response
    assert {"401", "403", "429"} <= set(operation["responses"])
