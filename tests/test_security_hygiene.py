"""Hostile input, protocol hygiene and account enumeration (ASVS V5, V8, V13; NIST 800-63B)."""

import json
import logging
from http import HTTPStatus

import pytest
from django.db import connection
from rest_framework.test import APIClient

from accounts.tests.factories import PASSWORD, UserFactory
from accounts.tests.helpers import bearer_client, login, staff_login

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _roomy_rates(settings):
    settings.RATELIMIT_AUTH = "100000/m"


# --- Hostile input ----------------------------------------------------------------------


@pytest.mark.parametrize("depth", [1000, 100_000])
def test_deeply_nested_json_is_a_400(api_client, depth):
    for body in ("[" * depth + "]" * depth, '{"a":' * depth + "1" + "}" * depth):
        response = api_client.post("/api/v1/auth/login", body, content_type="application/json")
        assert response.status_code == HTTPStatus.BAD_REQUEST
        assert response.json()["code"] in {"parse_error", "validation_error"}


def test_three_megabyte_body_is_refused(api_client):
    body = json.dumps({"username": "a" * (3 * 1024 * 1024), "password": "x"})
    response = api_client.post("/api/v1/auth/register", body, content_type="application/json")
    assert response.status_code == HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    assert response.json() == {"detail": "The request body is too large.", "code": "request_too_large"}


@pytest.mark.parametrize(
    "body",
    [
        '{"username": "a\\u0000b", "password": "x"}',
        '{"username": "alice", "password": "pass\\u0000word"}',
        '{"username": "alice", "email": "a@example.com", "password": "'
        + PASSWORD
        + '", "full_name": "x\\u0000"}',
    ],
)
def test_nul_bytes_are_a_400_not_a_database_error(api_client, body):
    for path in ("/api/v1/auth/login", "/api/v1/auth/register"):
        response = api_client.post(path, body, content_type="application/json")
        assert response.status_code in (HTTPStatus.BAD_REQUEST, HTTPStatus.UNAUTHORIZED)


def test_nul_and_control_characters_in_headers_are_stored_safely(api_client, user):
    response = api_client.post(
        "/api/v1/auth/login",
        {"username": "alice", "password": PASSWORD},
        format="json",
        HTTP_USER_AGENT="evil\x00agent\r\nX-Injected: 1",
    )
    assert response.status_code == HTTPStatus.OK
    from accounts.models import Session

    assert "\x00" not in Session.objects.get().user_agent


WRONG_TYPES = [None, True, 12, 1.5, [], ["x"], {}, {"a": 1}, "", "x" * 300]


@pytest.mark.parametrize(
    "path,fields",
    [
        ("/api/v1/auth/register", ["username", "email", "password", "full_name"]),
        ("/api/v1/auth/login", ["username", "email", "password", "remember_me"]),
        ("/api/v1/auth/refresh", ["refresh_token"]),
        ("/api/v1/auth/verify", ["token"]),
        ("/api/v1/auth/password-reset", ["email"]),
        ("/api/v1/auth/password-reset/confirm", ["uid", "token", "new_password"]),
    ],
)
def test_wrong_json_types_for_every_public_field(api_client, path, fields):
    valid = {
        "username": "alice",
        "email": "alice@example.com",
        "password": PASSWORD,
        "full_name": "A",
        "remember_me": False,
        "refresh_token": "x",
        "token": "x",
        "uid": "MQ",
        "new_password": PASSWORD,
    }
    for field in fields:
        for value in WRONG_TYPES:
            body = {f: valid[f] for f in fields} | {field: value}
            response = api_client.post(path, body, format="json")
            assert response.status_code < 500, (path, field, value, response.content)
            assert "code" in response.json() or response.status_code in (200, 201, 202, 204)


@pytest.mark.parametrize(
    "method,path,fields",
    [
        ("patch", "/api/v1/auth/me", ["full_name"]),
        ("post", "/api/v1/auth/change-password", ["current_password", "new_password"]),
        ("post", "/api/v1/auth/logout", ["refresh_token"]),
        ("post", "/api/v1/api-keys", ["name", "scopes", "expires_in_days", "rate_limit"]),
    ],
)
def test_wrong_json_types_for_every_authenticated_field(auth_client, method, path, fields):
    valid = {
        "full_name": "A",
        "current_password": "wrong guess here",
        "new_password": "x",
        "refresh_token": "x",
        "name": "k",
        "scopes": ["profile:read"],
        "expires_in_days": 5,
        "rate_limit": "10/h",
    }
    for field in fields:
        for value in WRONG_TYPES:
            body = {f: valid[f] for f in fields} | {field: value}
            response = getattr(auth_client, method)(path, body, format="json")
            assert response.status_code < 500, (path, field, value, response.content)


@pytest.mark.parametrize(
    "content_type",
    ["application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "text/plain", "application/xml"],
)
def test_wrong_content_types_are_415(api_client, content_type):
    response = api_client.post("/api/v1/auth/login", "username=a&password=b", content_type=content_type)
    assert response.status_code == HTTPStatus.UNSUPPORTED_MEDIA_TYPE
    assert response.json()["code"] == "unsupported_media_type"


@pytest.mark.parametrize("method", ["TRACE", "PUT", "DELETE", "PATCH", "CONNECT", "PROPFIND"])
def test_other_methods_are_405(api_client, method):
    response = api_client.generic(method, "/api/v1/auth/login")
    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert response.json()["code"] == "method_not_allowed"


# --- Protocol hygiene ----------------------------------------------------------------------


def test_token_responses_are_not_cacheable(api_client, user, auth_client, tokens):
    refreshed = api_client.post(
        "/api/v1/auth/refresh", {"refresh_token": tokens["refresh_token"]}, format="json"
    )
    key = auth_client.post("/api/v1/api-keys", {"name": "k", "scopes": ["profile:read"]}, format="json")
    logged_in = api_client.post(
        "/api/v1/auth/login", {"username": "alice", "password": PASSWORD}, format="json"
    )
    for response in (refreshed, key, logged_in):
        assert response["Cache-Control"] == "no-store"


def test_security_headers_and_no_cors(api_client, client, admin_user):
    response = api_client.get("/api/v1/", HTTP_ORIGIN="https://evil.example")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "Access-Control-Allow-Origin" not in response
    preflight = api_client.options(
        "/api/v1/auth/login", HTTP_ORIGIN="https://evil.example", HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST"
    )
    assert "Access-Control-Allow-Origin" not in preflight
    staff_login(client, admin_user)
    admin_page = client.get("/admin/")
    assert admin_page["X-Frame-Options"] == "DENY"


def test_no_secret_reaches_the_logs(api_client, user, caplog, django_capture_on_commit_callbacks):
    caplog.set_level(logging.DEBUG)
    tokens = login(api_client, "alice")
    api_client.post(
        "/api/v1/auth/login", {"username": "alice", "password": "my wrong secret words"}, format="json"
    )
    rotated = api_client.post(
        "/api/v1/auth/refresh", {"refresh_token": tokens["refresh_token"]}, format="json"
    ).json()
    client = bearer_client(rotated["access_token"])
    key = client.post("/api/v1/api-keys", {"name": "k", "scopes": ["profile:read"]}, format="json").json()[
        "key"
    ]
    APIClient().get("/api/v1/auth/me", HTTP_X_API_KEY=key[:-2] + "zz")
    changed = client.post(
        "/api/v1/auth/change-password",
        {"current_password": PASSWORD, "new_password": "the new secret passphrase"},
        format="json",
    )
    assert changed.status_code == HTTPStatus.OK, changed.content
    api_client.post(
        "/api/v1/auth/refresh", {"refresh_token": tokens["refresh_token"]}, format="json"
    )  # reuse
    logs = "\n".join(record.getMessage() for record in caplog.records)
    assert logs  # the flow did log (failures, reuse, axes)
    for secret in (
        PASSWORD,
        "my wrong secret words",
        "the new secret passphrase",
        tokens["access_token"],
        tokens["refresh_token"],
        rotated["refresh_token"],
        key,
        key.split("_", 2)[2],
    ):
        assert secret not in logs


def test_no_bearer_credential_is_stored_in_clear(api_client, user, auth_client, tokens):
    key = auth_client.post(
        "/api/v1/api-keys", {"name": "k", "scopes": ["profile:read"]}, format="json"
    ).json()["key"]
    api_client.post("/api/v1/auth/refresh", {"refresh_token": tokens["refresh_token"]}, format="json")
    secrets = [
        tokens["refresh_token"],
        tokens["access_token"],
        key,
        key.split("_", 2)[2],
        tokens["refresh_token"].split(".")[2],
        tokens["access_token"].split(".")[2],
    ]
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
            dump = repr(cursor.fetchall())
            for secret in secrets:
                assert secret not in dump, table


# --- Enumeration ------------------------------------------------------------------------------


@pytest.fixture
def hasher_calls(monkeypatch):
    """Counts Argon2 work: one encode (unknown user) or one verify (known user) per login."""
    from django.contrib.auth import hashers

    calls = []
    hasher_class = type(hashers.get_hasher("default"))
    real_encode, real_verify = hasher_class.encode, hasher_class.verify
    monkeypatch.setattr(
        hasher_class, "encode", lambda self, *a, **k: calls.append("encode") or real_encode(self, *a, **k)
    )
    monkeypatch.setattr(
        hasher_class, "verify", lambda self, *a, **k: calls.append("verify") or real_verify(self, *a, **k)
    )
    return calls


@pytest.mark.parametrize(
    "username,password",
    [
        ("alice", "a wrong password here"),
        ("nobody-at-all", "a wrong password here"),
        ("nobody@example.com", PASSWORD),
        ("sleepy", PASSWORD),
    ],
    ids=["known-wrong-password", "unknown-username", "unknown-email", "inactive"],
)
def test_login_runs_the_hasher_exactly_once_and_answers_the_same(
    api_client, user, hasher_calls, username, password
):
    UserFactory(username="sleepy", email="sleepy@example.com")
    from accounts.models import User

    User.objects.filter(username="sleepy").update(is_active=False)
    hasher_calls.clear()
    response = api_client.post(
        "/api/v1/auth/login", {"username": username, "password": password}, format="json"
    )
    assert len(hasher_calls) == 1, hasher_calls
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json() == {
        "detail": "The username or password is incorrect.",
        "code": "invalid_credentials",
    }


def test_password_reset_answers_the_same_and_enqueues_one_task_either_way(
    api_client, user, settings, django_capture_on_commit_callbacks
):
    # The one insert is the same for a mail (known address) and a no-op stand-in (unknown), and
    # nothing is sent inside the request: production's worker sends it (TASKS_BACKEND=database).
    settings.TASKS = {
        "default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend", "QUEUES": ["default"]}
    }
    from django.core import mail
    from django_tasks import default_task_backend

    with django_capture_on_commit_callbacks(execute=True):
        known = api_client.post("/api/v1/auth/password-reset", {"email": "alice@example.com"}, format="json")
    known_tasks = [result.task.name for result in default_task_backend.results]
    default_task_backend.clear()
    with django_capture_on_commit_callbacks(execute=True):
        unknown = api_client.post(
            "/api/v1/auth/password-reset", {"email": "ghost@example.com"}, format="json"
        )
    unknown_tasks = [result.task.name for result in default_task_backend.results]

    assert known.status_code == HTTPStatus.ACCEPTED
    assert (known.status_code, known.content) == (unknown.status_code, unknown.content)
    assert (known_tasks, unknown_tasks) == (["mail_send"], ["mail_skip"])
    assert mail.outbox == []


@pytest.mark.parametrize(
    "url",
    [
        "/admin/accounts/user/?role__exact=%00",
        "/admin/accounts/user/?q=%00",
        "/admin/audit/auditevent/?q=a%00b",
        "/api/v1/admin/audit-logs?user=%00",
        "/api/v1/admin/users?search=a%00",
    ],
)
def test_nul_bytes_in_query_strings_are_a_400(client, admin_user, api_client, url):
    staff_login(client, admin_user)
    token = login(api_client, admin_user.username)["access_token"]
    response = client.get(url, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    if url.startswith("/api/"):
        assert response.json()["code"] == "bad_request"
