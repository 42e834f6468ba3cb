"""Issue 15, hot paths: an authenticated request's cache work is one Redis round trip (the
client's failed-authentication count, the principal's state and its rate-limit hits in one
script), and every check it used to make still holds. Against the real Redis of ./scripts/test."""

from http import HTTPStatus

import pytest
import redis
from rest_framework.test import APIClient

from accounts.models import Role
from accounts.services.users import user_set_role
from accounts.tests.factories import UserFactory
from accounts.tests.helpers import bearer_client
from apikeys.services import apikey_create
from tests.conftest import services_required

pytestmark = pytest.mark.django_db


@pytest.fixture
def redis_commands(monkeypatch):
    """Every command any Redis client of this process sends, by name."""
    services_required()
    sent: list[str] = []
    real = redis.Redis.execute_command

    def recording(self, *args, **kwargs):
        sent.append(str(args[0]).upper())
        return real(self, *args, **kwargs)

    monkeypatch.setattr(redis.Redis, "execute_command", recording)
    return sent


def key_client(full_key: str, ip: str = "198.51.100.20") -> APIClient:
    client = APIClient(REMOTE_ADDR=ip)
    client.credentials(HTTP_X_API_KEY=full_key)
    return client


def test_a_warm_jwt_request_costs_one_redis_round_trip_and_its_budget_still_holds(
    tokens, settings, redis_commands
):
    settings.RATELIMIT_BY_ROLE = {**settings.RATELIMIT_BY_ROLE, "user": "3/h"}
    client = bearer_client(tokens["access_token"])
    assert client.get("/api/v1/auth/me").status_code == HTTPStatus.OK  # fills the cache
    redis_commands.clear()
    assert client.get("/api/v1/auth/me").status_code == HTTPStatus.OK
    assert redis_commands == ["EVALSHA"]
    assert client.get("/api/v1/auth/me").status_code == HTTPStatus.OK
    over = client.get("/api/v1/auth/me")
    assert over.status_code == HTTPStatus.TOO_MANY_REQUESTS and int(over["Retry-After"]) >= 1


def test_a_warm_api_key_request_costs_one_redis_round_trip_and_its_own_limit_still_holds(
    user, settings, redis_commands
):
    _key, full_key = apikey_create(owner=user, name="ci", scopes=["profile:read"], rate_limit="3/h")
    client = key_client(full_key)
    assert client.get("/api/v1/auth/me").status_code == HTTPStatus.OK  # this process learns the key
    redis_commands.clear()
    assert client.get("/api/v1/auth/me").status_code == HTTPStatus.OK
    assert redis_commands == ["EVALSHA"]
    assert client.get("/api/v1/auth/me").status_code == HTTPStatus.OK
    assert client.get("/api/v1/auth/me").status_code == HTTPStatus.TOO_MANY_REQUESTS


def test_a_key_prefix_with_a_wrong_secret_spends_nothing_of_the_owners_budget(user, settings):
    settings.RATELIMIT_BY_ROLE = {**settings.RATELIMIT_BY_ROLE, "user": "3/h"}
    settings.RATELIMIT_AUTH_FAILURES = "1000/m"
    _key, full_key = apikey_create(owner=user, name="ci", scopes=["profile:read"])
    assert key_client(full_key).get("/api/v1/auth/me").status_code == HTTPStatus.OK
    prefix = full_key.rsplit("_", 1)[0]
    forged = key_client(prefix + "_" + "A" * 43, ip="203.0.113.66")
    assert [forged.get("/api/v1/auth/me").status_code for _ in range(10)] == [HTTPStatus.UNAUTHORIZED] * 10
    # The owner has used one request of three: two more pass, the fourth is refused.
    assert [key_client(full_key).get("/api/v1/auth/me").status_code for _ in range(3)] == [
        HTTPStatus.OK,
        HTTPStatus.OK,
        HTTPStatus.TOO_MANY_REQUESTS,
    ]


def test_a_role_changed_after_the_token_was_issued_is_limited_at_the_new_roles_rate(tokens, user, settings):
    settings.RATELIMIT_BY_ROLE = {**settings.RATELIMIT_BY_ROLE, "user": "1000/h"}
    settings.RATELIMIT_BY_ROLE = {**settings.RATELIMIT_BY_ROLE, "developer": "2/h"}
    client = bearer_client(tokens["access_token"])  # its `role` claim says user
    user_set_role(user_id=user.pk, role=Role.DEVELOPER)
    assert [client.get("/api/v1/auth/me").status_code for _ in range(3)] == [
        HTTPStatus.OK,
        HTTPStatus.OK,
        HTTPStatus.TOO_MANY_REQUESTS,
    ]


def test_a_client_over_its_failure_budget_is_refused_with_a_valid_token_without_spending_its_budget(
    tokens, settings
):
    settings.RATELIMIT_AUTH_FAILURES = "2/m"
    settings.RATELIMIT_BY_ROLE = {**settings.RATELIMIT_BY_ROLE, "user": "2/h"}
    bad = [bearer_client("not.a.jwt").get("/api/v1/auth/me", REMOTE_ADDR="198.51.100.9") for _ in range(2)]
    assert [r.status_code for r in bad] == [HTTPStatus.UNAUTHORIZED] * 2
    client = bearer_client(tokens["access_token"])
    for _ in range(3):
        refused = client.get("/api/v1/auth/me", REMOTE_ADDR="198.51.100.9")
        assert refused.status_code == HTTPStatus.TOO_MANY_REQUESTS
    # None of the refused requests counted: the user's two requests are still there.
    statuses = [client.get("/api/v1/auth/me", REMOTE_ADDR="203.0.113.9").status_code for _ in range(3)]
    assert statuses == [HTTPStatus.OK, HTTPStatus.OK, HTTPStatus.TOO_MANY_REQUESTS]


def test_introspection_is_not_counted_against_the_calling_keys_owner(settings):
    settings.RATELIMIT_BY_ROLE = {**settings.RATELIMIT_BY_ROLE, "service_account": "2/h"}
    settings.RATELIMIT_VERIFY = "1000/m"
    service = UserFactory(username="inference", role=Role.SERVICE_ACCOUNT)
    _key, full_key = apikey_create(owner=service, name="rs", scopes=["tokens:introspect", "profile:read"])
    client = key_client(full_key)
    for _ in range(5):
        response = client.post("/api/v1/auth/introspect", {"token": "x"}, format="json")
        assert response.status_code == HTTPStatus.OK and response.json() == {"active": False}
    assert [client.get("/api/v1/auth/me").status_code for _ in range(3)] == [
        HTTPStatus.OK,
        HTTPStatus.OK,
        HTTPStatus.TOO_MANY_REQUESTS,
    ]


def test_with_redis_down_authenticated_requests_verify_and_introspection_are_served_from_the_database(
    tokens, settings, user
):
    services_required()
    unreachable = {"LOCATION": "redis://127.0.0.1:9/0", "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2}}
    caches = {
        name: {**config, **unreachable, "OPTIONS": {**config["OPTIONS"], **unreachable["OPTIONS"]}}
        for name, config in settings.CACHES.items()
    }
    settings.CACHES = caches  # Django's test signal gives every alias a fresh backend
    client = bearer_client(tokens["access_token"])
    assert client.get("/api/v1/auth/me").json()["username"] == user.username
    _key, full_key = apikey_create(owner=user, name="ci", scopes=["profile:read"])
    assert key_client(full_key).get("/api/v1/auth/me").status_code == HTTPStatus.OK
    body = {"token": tokens["access_token"]}
    assert APIClient().post("/api/v1/auth/verify", body, format="json").json()["valid"] is True
    service = UserFactory(username="inference", role=Role.SERVICE_ACCOUNT)
    _rs, rs_key = apikey_create(owner=service, name="rs", scopes=["tokens:introspect"])
    answer = key_client(rs_key).post("/api/v1/auth/introspect", body, format="json").json()
    assert answer["active"] is True and answer["username"] == user.username


def test_the_wsgi_app_skips_closing_caches_that_close_nothing_and_keeps_it_for_others(settings):
    from django.core.cache import close_caches
    from django.core.signals import request_finished

    from config.wsgi import keep_cache_connections

    def connected() -> bool:
        was = request_finished.disconnect(close_caches)
        if was:
            request_finished.connect(close_caches)
        return was

    try:
        request_finished.connect(close_caches)
        settings.CACHES = {
            **settings.CACHES,
            "files": {
                "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                "LOCATION": "/nonexistent",
            },
        }
        assert keep_cache_connections() is False and connected()
        settings.CACHES = {name: c for name, c in settings.CACHES.items() if name != "files"}
        settings.DJANGO_REDIS_CLOSE_CONNECTION = True
        assert keep_cache_connections() is False and connected()
        settings.DJANGO_REDIS_CLOSE_CONNECTION = False
        assert keep_cache_connections() is True and not connected()
    finally:
        request_finished.connect(close_caches)


def test_a_warm_introspection_costs_one_redis_round_trip_and_its_address_limit_holds(
    tokens, settings, redis_commands
):
    settings.RATELIMIT_VERIFY = "6/h"
    service = UserFactory(username="inference", role=Role.SERVICE_ACCOUNT)
    _key, full_key = apikey_create(owner=service, name="rs", scopes=["tokens:introspect"])
    client = key_client(full_key)
    body = {"token": tokens["access_token"]}
    assert client.post("/api/v1/auth/introspect", body, format="json").json()["active"] is True
    redis_commands.clear()
    # The caller's key, its failure count, the address's counter and the introspected token's
    # session and user state, all in one script.
    assert client.post("/api/v1/auth/introspect", body, format="json").json()["active"] is True
    assert redis_commands == ["EVALSHA"]
    _other, other_key = apikey_create(owner=service, name="other", scopes=["profile:read"])
    client.post("/api/v1/auth/introspect", {"token": other_key}, format="json")  # fills its entry
    redis_commands.clear()
    answer = client.post("/api/v1/auth/introspect", {"token": other_key}, format="json").json()
    assert answer["active"] is True and answer["token_type"] == "api_key"
    assert redis_commands == ["EVALSHA"]
    # Six answers in this hour from this address: two more pass, the seventh is refused.
    assert client.post("/api/v1/auth/introspect", body, format="json").status_code == HTTPStatus.OK
    assert client.post("/api/v1/auth/introspect", body, format="json").status_code == HTTPStatus.OK
    over = client.post("/api/v1/auth/introspect", body, format="json")
    assert over.status_code == HTTPStatus.TOO_MANY_REQUESTS and int(over["Retry-After"]) >= 1


def test_an_introspection_answer_follows_a_revocation_made_after_the_prefetch_could_be_cached(
    tokens, user, settings
):
    from accounts.services.sessions import session_revoke_all

    service = UserFactory(username="inference", role=Role.SERVICE_ACCOUNT)
    _key, full_key = apikey_create(owner=service, name="rs", scopes=["tokens:introspect"])
    client = key_client(full_key)
    body = {"token": tokens["access_token"]}
    assert client.post("/api/v1/auth/introspect", body, format="json").json()["active"] is True
    session_revoke_all(user=user, reason="admin")
    assert client.post("/api/v1/auth/introspect", body, format="json").json() == {"active": False}


def test_an_unparsable_introspection_body_is_still_401_without_a_key_and_400_with_one():
    service = UserFactory(username="inference", role=Role.SERVICE_ACCOUNT)
    _key, full_key = apikey_create(owner=service, name="rs", scopes=["tokens:introspect"])
    bad = {"data": "{not json", "content_type": "application/json"}
    anonymous = APIClient().post("/api/v1/auth/introspect", **bad)
    assert anonymous.status_code == HTTPStatus.UNAUTHORIZED
    with_key = key_client(full_key).post("/api/v1/auth/introspect", **bad)
    assert with_key.status_code == HTTPStatus.BAD_REQUEST and with_key.json()["code"] == "parse_error"


def test_a_warm_verify_costs_one_redis_round_trip_and_its_address_limit_holds(
    tokens, settings, redis_commands
):
    settings.RATELIMIT_VERIFY = "3/h"
    client = APIClient(REMOTE_ADDR="198.51.100.33")
    body = {"token": tokens["access_token"]}
    assert client.post("/api/v1/auth/verify", body, format="json").json()["valid"] is True
    redis_commands.clear()
    # The address's counter and the token's session and user state in one script.
    assert client.post("/api/v1/auth/verify", body, format="json").json()["valid"] is True
    assert redis_commands == ["EVALSHA"]
    assert client.post("/api/v1/auth/verify", body, format="json").status_code == HTTPStatus.OK
    over = client.post("/api/v1/auth/verify", body, format="json")
    assert over.status_code == HTTPStatus.TOO_MANY_REQUESTS and int(over["Retry-After"]) >= 1
    # Garbage is counted too, without any prefetch.
    assert (
        APIClient(REMOTE_ADDR="198.51.100.33")
        .post("/api/v1/auth/verify", {"token": "x"}, format="json")
        .status_code
        == HTTPStatus.TOO_MANY_REQUESTS
    )


def test_verify_sees_a_revocation_and_an_unparsable_body_is_still_a_parse_error(tokens, user):
    from accounts.services.sessions import session_revoke_all

    client = APIClient()
    body = {"token": tokens["access_token"]}
    assert client.post("/api/v1/auth/verify", body, format="json").json()["valid"] is True
    session_revoke_all(user=user, reason="admin")
    assert client.post("/api/v1/auth/verify", body, format="json").json() == {
        "valid": False,
        "code": "token_revoked",
    }
    bad = client.post("/api/v1/auth/verify", data="{not json", content_type="application/json")
    assert bad.status_code == HTTPStatus.BAD_REQUEST and bad.json()["code"] == "parse_error"


@pytest.mark.parametrize(
    "body",
    [
        {"token": "eyJ.abc.def"},
        {"token": "eyJ.abc.def", "other": 1},
        {"token": " eyJ.abc.def "},
        {"token": ""},
        {"token": "x" * 8192},
        {"token": "x" * 8193},
        {"token": 123},
        {"token": None},
        {"token": "a\x00b"},
        {"token": "jeton-é"},
        {"token": "\ud800"},
        {},
        ["token"],
    ],
)
def test_verifys_fast_token_check_accepts_only_what_its_serializer_accepts_unchanged(body):
    from accounts.api.serializers import VerifySerializer
    from accounts.api.views import _plain_token

    serializer = VerifySerializer(data=body)
    fast = _plain_token(body)
    if fast is not None:
        assert serializer.is_valid() and serializer.validated_data["token"] == fast
