"""The hot path: a JWT request that needs only the user's snapshot makes no database query."""

from http import HTTPStatus

import pytest

from accounts.tests.helpers import bearer_client

pytestmark = pytest.mark.django_db


def test_me_with_a_warm_cache_makes_no_query(tokens, django_assert_num_queries, settings):
    # The key table is re-read once a second per process, never per request; a slow machine
    # must not land that read inside the counted requests.
    settings.JWT_KEYSET_REFRESH_SECONDS = 3600
    client = bearer_client(tokens["access_token"])
    with django_assert_num_queries(1):  # cold: one query fills the cache
        assert client.get("/api/v1/auth/me").status_code == HTTPStatus.OK
    with django_assert_num_queries(0):
        assert client.get("/api/v1/auth/me").status_code == HTTPStatus.OK


def test_revocation_is_seen_with_a_warm_cache(tokens, user):
    from accounts.services.sessions import session_revoke_all

    client = bearer_client(tokens["access_token"])
    assert client.get("/api/v1/auth/me").status_code == HTTPStatus.OK
    session_revoke_all(user=user, reason="admin")
    assert client.get("/api/v1/auth/me").status_code == HTTPStatus.UNAUTHORIZED


def test_a_cold_cache_falls_back_to_the_database(tokens, user):
    from django.core.cache import cache

    from accounts.services.sessions import session_revoke_all

    client = bearer_client(tokens["access_token"])
    assert client.get("/api/v1/auth/me").status_code == HTTPStatus.OK
    session_revoke_all(user=user, reason="admin")
    cache.clear()  # e.g. Redis restarted and lost everything
    assert client.get("/api/v1/auth/me").status_code == HTTPStatus.UNAUTHORIZED
