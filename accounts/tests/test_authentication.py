"""The session JWT class is simplejwt's, and its user is a Principal that never queries."""

from rest_framework.test import APIRequestFactory
from rest_framework_simplejwt.authentication import JWTAuthentication

from accounts.authentication import SessionJWTAuthentication
from accounts.principal import Principal


def authenticate(header: str):
    request = APIRequestFactory().get("/api/v1/auth/me", HTTP_AUTHORIZATION=header)
    return SessionJWTAuthentication().authenticate(request)


def test_the_session_class_keeps_simplejwts_hooks():
    assert issubclass(SessionJWTAuthentication, JWTAuthentication)
    for hook in ("get_header", "get_raw_token", "get_validated_token", "get_user"):
        assert hook in SessionJWTAuthentication.__dict__


def test_a_valid_token_gives_a_frozen_principal_without_a_query(tokens, user, django_assert_num_queries):
    authenticate(f"Bearer {tokens['access_token']}")  # warms the cache
    with django_assert_num_queries(0):
        principal, token = authenticate(f"Bearer {tokens['access_token']}")
    assert isinstance(principal, Principal) and principal.pk == user.pk and token["sid"]
    assert principal.is_staff is False and principal.is_anonymous is False


def test_api_keys_and_other_schemes_are_left_to_the_next_class(db):
    assert authenticate("Bearer gk_0123456789ab_secret") is None
    assert authenticate("Basic YWxpY2U6cHc=") is None
