"""Issue 12 (hardening): failed authentications (bad, expired or revoked tokens and keys) are
throttled per client IP, and an unknown key prefix costs no query twice. Through the API."""

from http import HTTPStatus

import pytest
from rest_framework.test import APIClient

from accounts.tests.helpers import login
from apikeys.tests.factories import api_key_create
from audit.models import AuditEvent
from core.errors import RATE_LIMITED

pytestmark = pytest.mark.django_db


def events(name: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(event=name).order_by("seq"))


def me(credential: str, ip: str = "198.51.100.1", header: str = "HTTP_AUTHORIZATION"):
    value = f"Bearer {credential}" if header == "HTTP_AUTHORIZATION" else credential
    return APIClient().get("/api/v1/auth/me", REMOTE_ADDR=ip, **{header: value})


# --- 12. Unthrottled failure paths --------------------------------------------------------------


def test_failed_authentications_are_limited_per_client_ip_before_the_credential_is_checked(
    api_client, user, settings
):
    settings.RATELIMIT_AUTH_FAILURES = "3/m"
    good = login(api_client, "alice")["access_token"]
    key = api_key_create(user)[1]
    bad = [me("not.a.jwt"), me(good + "x"), me("gk_0123456789ab_" + "A" * 43, header="HTTP_X_API_KEY")]
    assert [r.status_code for r in bad] == [HTTPStatus.UNAUTHORIZED] * 3
    over = me("not.a.jwt")
    assert over.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert over.json() == {"detail": RATE_LIMITED, "code": "rate_limited"}
    assert 1 <= int(over["Retry-After"]) <= 60
    # Cut off: even good credentials from that client are not checked now...
    assert me(good).status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert me(key, header="HTTP_X_API_KEY").status_code == HTTPStatus.TOO_MANY_REQUESTS
    # ...while other clients are served.
    assert me(good, ip="203.0.113.5").status_code == HTTPStatus.OK
    assert me(key, ip="203.0.113.5", header="HTTP_X_API_KEY").status_code == HTTPStatus.OK
    [exceeded] = events("ratelimit.exceeded")
    assert exceeded.details["group"] == "auth-failures" and exceeded.ip_address == "198.51.100.1"


def test_failed_authentications_from_one_ipv6_64_share_one_budget(api_client, user, settings):
    settings.RATELIMIT_AUTH_FAILURES = "2/m"
    assert me("bad", ip="2001:db8:4:4::1").status_code == HTTPStatus.UNAUTHORIZED
    assert me("bad", ip="2001:db8:4:4::2").status_code == HTTPStatus.UNAUTHORIZED
    assert me("bad", ip="2001:db8:4:4::3").status_code == HTTPStatus.TOO_MANY_REQUESTS


def test_successful_authentications_do_not_count_as_failures(tokens, settings):
    settings.RATELIMIT_AUTH_FAILURES = "2/m"
    assert [me(tokens["access_token"]).status_code for _ in range(5)] == [HTTPStatus.OK] * 5


def test_unknown_api_key_prefix_is_negative_cached_so_a_repeat_costs_no_query(db, django_assert_num_queries):
    unknown = "gk_0123456789ab_" + "A" * 43
    with django_assert_num_queries(1):
        assert me(unknown, header="HTTP_X_API_KEY").status_code == HTTPStatus.UNAUTHORIZED
    with django_assert_num_queries(0):
        assert me(unknown, header="HTTP_X_API_KEY").status_code == HTTPStatus.UNAUTHORIZED
