"""The auth API as a client uses it: register → login → me → refresh → logout → 401."""

from datetime import UTC, datetime, timedelta
from datetime import timezone as tz
from http import HTTPStatus
from zoneinfo import ZoneInfo

import jwt
import pytest
from django.conf import settings
from django.utils import timezone

from accounts.errors import (
    INVALID_CREDENTIALS,
    TOKEN_REUSED,
    TOKEN_REVOKED,
    WRONG_CURRENT_PASSWORD,
)
from accounts.models import Role, Session, User
from accounts.tests.factories import PASSWORD, UserFactory
from accounts.tests.helpers import bearer_client, login

pytestmark = pytest.mark.django_db

USER_FIELDS = {
    "id",
    "username",
    "email",
    "full_name",
    "role",
    "is_active",
    "date_joined",
    "last_login",
    "mfa_enabled",
    "email_verified",
}


def claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def test_service_info_makes_no_database_query(api_client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = api_client.get("/api/v1/")
    assert response.status_code == HTTPStatus.OK
    assert response.json() == {"service": "gatehouse", "version": "1", "docs": "/api/docs"}


def test_health_reports_database_and_cache(api_client):
    response = api_client.get("/api/v1/health")
    assert response.status_code == HTTPStatus.OK
    assert response.json() == {"status": "ok", "database": "ok", "cache": "ok"}


def test_full_flow_register_login_me_refresh_logout(api_client):
    response = api_client.post(
        "/api/v1/auth/register",
        {"username": "Carol", "email": "carol@example.com", "password": PASSWORD, "full_name": "Carol C"},
        format="json",
    )
    assert response.status_code == HTTPStatus.CREATED
    created = response.json()
    assert set(created) == USER_FIELDS
    assert created["role"] == "user" and created["username"] == "Carol" and created["last_login"] is None

    body = login(api_client, "carol")  # usernames are case-insensitive
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 900 and body["refresh_expires_in"] == 604800
    assert body["user"]["id"] == created["id"] and body["user"]["last_login"] is not None

    me = bearer_client(body["access_token"]).get("/api/v1/auth/me")
    assert me.status_code == HTTPStatus.OK
    assert me.json()["email"] == "carol@example.com"

    refreshed = api_client.post(
        "/api/v1/auth/refresh", {"refresh_token": body["refresh_token"]}, format="json"
    )
    assert refreshed.status_code == HTTPStatus.OK
    pair = refreshed.json()
    assert pair["refresh_token"] != body["refresh_token"]
    assert claims(pair["access_token"])["sid"] == claims(body["access_token"])["sid"]

    client = bearer_client(pair["access_token"])
    assert client.post("/api/v1/auth/logout", {}, format="json").status_code == HTTPStatus.NO_CONTENT
    after = client.get("/api/v1/auth/me")
    assert after.status_code == HTTPStatus.UNAUTHORIZED
    assert after.json() == {"detail": TOKEN_REVOKED, "code": "token_revoked"}
    # The original access token of the same session is dead too.
    assert bearer_client(body["access_token"]).get("/api/v1/auth/me").status_code == HTTPStatus.UNAUTHORIZED
    # And its refresh token cannot bring it back.
    again = api_client.post("/api/v1/auth/refresh", {"refresh_token": pair["refresh_token"]}, format="json")
    assert again.status_code == HTTPStatus.UNAUTHORIZED
    assert again.json()["code"] == "token_revoked"


def test_access_token_claims(api_client, tokens, user):
    from accounts.tests.signing_helpers import decode_with_jwks

    access = decode_with_jwks(
        tokens["access_token"], api_client, audience=settings.JWT_AUDIENCE, issuer=settings.JWT_ISSUER
    )
    assert access["sub"] == str(user.pk)
    assert access["role"] == "user" and access["token_type"] == "access"
    assert {"sid", "jti", "iat", "exp", "iss", "aud"} <= set(access)
    assert access["exp"] - access["iat"] == 900
    refresh = claims(tokens["refresh_token"])
    assert refresh["token_type"] == "refresh" and refresh["sid"] == access["sid"]
    assert {"jti", "exp"} <= set(refresh)


def test_remember_me_gives_a_longer_refresh_token(api_client, user):
    body = login(api_client, user.username, remember_me=True)
    assert body["refresh_expires_in"] == 2592000
    refresh = claims(body["refresh_token"])
    assert refresh["exp"] - refresh["iat"] == 2592000
    # Rotation keeps the session's lifetime.
    rotated = api_client.post("/api/v1/auth/refresh", {"refresh_token": body["refresh_token"]}, format="json")
    assert rotated.json()["refresh_expires_in"] == 2592000


def test_login_by_email_any_case(api_client, user):
    response = api_client.post(
        "/api/v1/auth/login", {"email": "ALICE@Example.com", "password": PASSWORD}, format="json"
    )
    assert response.status_code == HTTPStatus.OK
    assert response["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    "credentials",
    [
        {"username": "alice", "password": "wrong password here"},
        {"username": "nobody", "password": PASSWORD},
        {"email": "nobody@example.com", "password": PASSWORD},
        {"username": "inactive", "password": PASSWORD},
    ],
    ids=["wrong-password", "unknown-user", "unknown-email", "inactive-user"],
)
def test_login_failures_all_look_the_same(api_client, user, credentials):
    UserFactory(username="inactive", email="inactive@example.com")
    User.objects.filter(username="inactive").update(is_active=False)
    response = api_client.post("/api/v1/auth/login", credentials, format="json")
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json() == {"detail": INVALID_CREDENTIALS, "code": "invalid_credentials"}


def test_login_needs_an_identifier(api_client):
    response = api_client.post("/api/v1/auth/login", {"password": PASSWORD}, format="json")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["code"] == "validation_error"
    assert "username" in response.json()["errors"]


@pytest.fixture(params=["one statement", "step by step"])
def rotation_path(request, monkeypatch):
    """Both ways rotation writes: one statement on PostgreSQL, step by step elsewhere (SQLite)."""
    if request.param == "step by step":
        monkeypatch.setattr("accounts.services.sessions._rotation_in_one_statement", lambda: False)
    return request.param


def test_refresh_token_reuse_revokes_the_whole_session(api_client, tokens, rotation_path):
    first = tokens["refresh_token"]
    second = api_client.post("/api/v1/auth/refresh", {"refresh_token": first}, format="json").json()
    third = api_client.post(
        "/api/v1/auth/refresh", {"refresh_token": second["refresh_token"]}, format="json"
    ).json()

    reused = api_client.post("/api/v1/auth/refresh", {"refresh_token": first}, format="json")
    assert reused.status_code == HTTPStatus.UNAUTHORIZED
    assert reused.json() == {"detail": TOKEN_REUSED, "code": "token_reused"}

    # Every token descended from that login is dead: the newest refresh and all access tokens.
    latest = api_client.post("/api/v1/auth/refresh", {"refresh_token": third["refresh_token"]}, format="json")
    assert latest.status_code == HTTPStatus.UNAUTHORIZED
    for access in (tokens["access_token"], second["access_token"], third["access_token"]):
        assert bearer_client(access).get("/api/v1/auth/me").status_code == HTTPStatus.UNAUTHORIZED
    session = Session.objects.get()
    assert session.revoked_reason == "token_reuse"


def test_refresh_blacklists_the_used_token_and_stores_no_raw_token(api_client, tokens, rotation_path):
    from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

    before = Session.objects.get()
    new = api_client.post("/api/v1/auth/refresh", {"refresh_token": tokens["refresh_token"]}, format="json")
    assert new.status_code == HTTPStatus.OK
    used_jti = claims(tokens["refresh_token"])["jti"]
    assert BlacklistedToken.objects.filter(token__jti=used_jti).exists()
    assert OutstandingToken.objects.count() == 2
    new_claims = claims(new.json()["refresh_token"])
    recorded = OutstandingToken.objects.get(jti=new_claims["jti"])
    assert recorded.user_id == before.user_id and int(recorded.expires_at.timestamp()) == new_claims["exp"]
    after = Session.objects.get()
    assert after.refresh_jti == new_claims["jti"] and after.last_used_at > before.last_used_at
    assert int(after.expires_at.timestamp()) == new_claims["exp"]
    for row in OutstandingToken.objects.all():
        assert row.token.startswith("sha256:") and "." not in row.token


def test_access_token_is_not_a_refresh_token_and_vice_versa(api_client, tokens):
    response = api_client.post(
        "/api/v1/auth/refresh", {"refresh_token": tokens["access_token"]}, format="json"
    )
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json()["code"] == "token_not_valid"
    me = bearer_client(tokens["refresh_token"]).get("/api/v1/auth/me")
    assert me.status_code == HTTPStatus.UNAUTHORIZED
    assert me.json()["code"] == "token_not_valid"


def test_expired_access_token(api_client, user, tokens, settings):
    payload = claims(tokens["access_token"])
    payload["exp"] = int((timezone.now() - timedelta(seconds=5)).timestamp())
    from accounts.tests.signing_helpers import sign_as_gatehouse

    expired = sign_as_gatehouse(payload)
    response = bearer_client(expired).get("/api/v1/auth/me")
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json()["code"] == "token_expired"


def test_tampered_token_is_rejected(tokens):
    header, payload, signature = tokens["access_token"].split(".")
    forged = jwt.encode(
        {**claims(tokens["access_token"]), "role": "admin"},
        "an-attacker-key-that-is-long-enough-for-hs256",
        algorithm="HS256",
    )
    for token in (f"{header}.{payload}.", forged, "garbage", "a.b.c"):
        response = bearer_client(token).get("/api/v1/auth/me")
        assert response.status_code == HTTPStatus.UNAUTHORIZED, token
        assert response.json()["code"] == "token_not_valid"


def test_missing_credentials_is_401_not_authenticated(api_client):
    response = api_client.get("/api/v1/auth/me")
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json()["code"] == "not_authenticated"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_verify_reports_validity_without_raising(api_client, tokens, user):
    access = api_client.post("/api/v1/auth/verify", {"token": tokens["access_token"]}, format="json").json()
    assert access["valid"] is True and access["user_id"] == user.pk and access["token_type"] == "access"
    assert "expires_at" in access
    refresh = api_client.post("/api/v1/auth/verify", {"token": tokens["refresh_token"]}, format="json").json()
    assert refresh["valid"] is True and refresh["token_type"] == "refresh"
    bad = api_client.post("/api/v1/auth/verify", {"token": "nonsense"}, format="json")
    assert bad.status_code == HTTPStatus.OK
    assert bad.json() == {"valid": False, "code": "token_not_valid"}

    bearer_client(tokens["access_token"]).post("/api/v1/auth/logout", {}, format="json")
    revoked = api_client.post("/api/v1/auth/verify", {"token": tokens["access_token"]}, format="json").json()
    assert revoked == {"valid": False, "code": "token_revoked"}


def test_profile_alias_and_patch_only_full_name(auth_client, user):
    assert auth_client.get("/api/v1/auth/profile").json()["username"] == "alice"
    response = auth_client.patch("/api/v1/auth/me", {"full_name": "Alice Liddell"}, format="json")
    assert response.status_code == HTTPStatus.OK
    assert response.json()["full_name"] == "Alice Liddell"
    assert auth_client.get("/api/v1/auth/me").json()["full_name"] == "Alice Liddell"


@pytest.mark.parametrize("field,value", [("role", "admin"), ("is_active", False), ("email", "x@example.com")])
def test_user_cannot_change_role_status_or_email_on_me(auth_client, user, field, value):
    response = auth_client.patch("/api/v1/auth/me", {"full_name": "A", field: value}, format="json")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["errors"] == {field: ["This field cannot be changed here."]}
    user.refresh_from_db()
    assert user.role == Role.USER and user.is_active and user.email == "alice@example.com"


def test_role_change_takes_effect_on_next_request(auth_client, user):
    from accounts.services.users import user_set_role

    assert auth_client.get("/api/v1/auth/me").json()["role"] == "user"
    user_set_role(user_id=user.pk, role=Role.GUEST)
    assert auth_client.get("/api/v1/auth/me").json()["role"] == "guest"


def test_deactivated_user_tokens_stop_working(api_client, auth_client, tokens, user):
    from accounts.services.users import user_set_active

    user_set_active(user_id=user.pk, is_active=False)
    assert auth_client.get("/api/v1/auth/me").status_code == HTTPStatus.UNAUTHORIZED
    response = api_client.post(
        "/api/v1/auth/refresh", {"refresh_token": tokens["refresh_token"]}, format="json"
    )
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    verify = api_client.post("/api/v1/auth/verify", {"token": tokens["access_token"]}, format="json").json()
    assert verify["valid"] is False


def test_deleted_user_tokens_stop_working(api_client, auth_client, tokens, user):
    from accounts.services.users import user_delete

    auth_client.get("/api/v1/auth/me")  # warm the cache
    user_delete(user_id=user.pk)
    assert auth_client.get("/api/v1/auth/me").status_code == HTTPStatus.UNAUTHORIZED
    response = api_client.post(
        "/api/v1/auth/refresh", {"refresh_token": tokens["refresh_token"]}, format="json"
    )
    assert response.status_code == HTTPStatus.UNAUTHORIZED


def test_logout_all_ends_every_session(api_client, user):
    first, second = login(api_client, "alice"), login(api_client, "alice")
    response = bearer_client(first["access_token"]).post("/api/v1/auth/logout-all")
    assert response.status_code == HTTPStatus.NO_CONTENT
    for body in (first, second):
        assert (
            bearer_client(body["access_token"]).get("/api/v1/auth/me").status_code == HTTPStatus.UNAUTHORIZED
        )
    assert not Session.objects.filter(revoked_at__isnull=True).exists()


def test_sessions_list_and_revoke(api_client, user):
    first = login(api_client, "alice")
    second = api_client.post(
        "/api/v1/auth/login",
        {"username": "alice", "password": PASSWORD},
        format="json",
        HTTP_USER_AGENT="phone-app/1.0",
    ).json()
    client = bearer_client(first["access_token"])
    listed = client.get("/api/v1/auth/sessions").json()
    assert len(listed) == 2
    assert set(listed[0]) == {
        "id",
        "created_at",
        "last_used_at",
        "expires_at",
        "ip_address",
        "user_agent",
        "current",
    }
    current = [s for s in listed if s["current"]]
    assert len(current) == 1 and current[0]["id"] == claims(first["access_token"])["sid"]
    other = next(s for s in listed if not s["current"])
    assert other["user_agent"] == "phone-app/1.0" and other["ip_address"] == "127.0.0.1"

    assert client.delete(f"/api/v1/auth/sessions/{other['id']}").status_code == HTTPStatus.NO_CONTENT
    assert bearer_client(second["access_token"]).get("/api/v1/auth/me").status_code == HTTPStatus.UNAUTHORIZED
    assert [s["id"] for s in client.get("/api/v1/auth/sessions/").json()] == [current[0]["id"]]


def test_another_users_session_is_404(api_client, user):
    UserFactory(username="bob", email="bob@example.com")
    alice, bob = login(api_client, "alice"), login(api_client, "bob")
    bob_sid = claims(bob["access_token"])["sid"]
    response = bearer_client(alice["access_token"]).delete(f"/api/v1/auth/sessions/{bob_sid}")
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.json()["code"] == "not_found"
    assert bearer_client(bob["access_token"]).get("/api/v1/auth/me").status_code == HTTPStatus.OK
    missing = bearer_client(alice["access_token"]).delete("/api/v1/auth/sessions/not-a-uuid")
    assert missing.status_code == HTTPStatus.NOT_FOUND


def test_change_password_revokes_other_sessions_and_returns_a_new_one(api_client, user):
    other = login(api_client, "alice")
    mine = login(api_client, "alice")
    response = bearer_client(mine["access_token"]).post(
        "/api/v1/auth/change-password",
        {"current_password": PASSWORD, "new_password": "a brand new passphrase"},
        format="json",
    )
    assert response.status_code == HTTPStatus.OK
    fresh = response.json()
    assert response["Cache-Control"] == "no-store"
    for old in (other, mine):
        assert (
            bearer_client(old["access_token"]).get("/api/v1/auth/me").status_code == HTTPStatus.UNAUTHORIZED
        )
    assert bearer_client(fresh["access_token"]).get("/api/v1/auth/me").status_code == HTTPStatus.OK
    login(api_client, "alice", "a brand new passphrase")


def test_change_password_rules(auth_client):
    wrong = auth_client.post(
        "/api/v1/auth/change-password",
        {"current_password": "not my password", "new_password": "a brand new passphrase"},
        format="json",
    )
    assert wrong.status_code == HTTPStatus.BAD_REQUEST
    assert wrong.json() == {
        "detail": WRONG_CURRENT_PASSWORD,
        "code": "invalid_credentials",
        "errors": {"current_password": [WRONG_CURRENT_PASSWORD]},
    }
    weak = auth_client.post(
        "/api/v1/auth/change-password",
        {"current_password": PASSWORD, "new_password": "password123"},
        format="json",
    )
    assert weak.status_code == HTTPStatus.BAD_REQUEST
    assert weak.json()["code"] == "password_invalid"
    assert "new_password" in weak.json()["errors"]


def test_fast_user_representation_matches_the_serializer(user):
    from accounts.api.serializers import UserSerializer, user_representation
    from accounts.auth_state import user_snapshot

    user.refresh_from_db()
    assert user_representation(user) == UserSerializer(user).data
    assert user_representation(user_snapshot(user)) == UserSerializer(user).data


def test_a_remembered_token_still_expires(tokens, monkeypatch):
    import accounts.tokens
    from accounts.errors import TokenExpired
    from accounts.tokens import access_token_decode

    token = access_token_decode(tokens["access_token"])  # verified once, then remembered
    later = token["exp"] + 1
    monkeypatch.setattr(accounts.tokens.time, "time", lambda: later)
    with pytest.raises(TokenExpired):
        access_token_decode(tokens["access_token"])


@pytest.mark.parametrize(
    "value",
    [
        datetime(2026, 11, 21, 22, 5, 7, 123456, tzinfo=UTC),
        datetime(2026, 11, 21, 22, 5, 7, tzinfo=UTC),  # no microseconds: none printed
        datetime(2026, 11, 21, 22, 5, 7, 5, tzinfo=ZoneInfo("UTC")),
        datetime(2026, 11, 21, 23, 5, 7, 5, tzinfo=ZoneInfo("Europe/Paris")),  # shown in UTC
        datetime(1999, 1, 1, tzinfo=tz(timedelta(hours=-5))),
    ],
)
def test_fast_datetime_rendering_matches_drfs_datetime_field(value):
    from rest_framework import serializers

    from accounts.api.serializers import iso_datetime

    assert iso_datetime(value) == serializers.DateTimeField().to_representation(value)
    assert iso_datetime(None) is None
