"""accounts.services.sessions: rotation, reuse, revocation and the principal they publish."""

import pytest
from django.core.cache import cache

from accounts import auth_state
from accounts.errors import TokenNotValid, TokenReused, TokenRevoked
from accounts.models import RevokeReason, Role, Session
from accounts.services.sessions import refresh_token_rotate, session_revoke, session_revoke_all
from accounts.tests.factories import SESSION_META as META
from accounts.tests.factories import UserFactory, session_open
from core.errors import NotFound

pytestmark = pytest.mark.django_db


def test_session_records_where_it_came_from(user):
    session, _pair = session_open(user)
    session.refresh_from_db()
    assert session.ip_address == "203.0.113.9" and session.user_agent == "pytest"
    assert session.is_live()


def test_rotation_swaps_the_jti_and_detects_reuse(user):
    session, pair = session_open(user)
    _user, new_pair = refresh_token_rotate(raw_token=pair.refresh_token, meta=META)
    session.refresh_from_db()
    assert session.refresh_jti == new_pair.refresh_jti != pair.refresh_jti
    with pytest.raises(TokenReused):
        refresh_token_rotate(raw_token=pair.refresh_token, meta=META)
    session.refresh_from_db()
    assert session.revoked_reason == RevokeReason.TOKEN_REUSE
    with pytest.raises(TokenRevoked):
        refresh_token_rotate(raw_token=new_pair.refresh_token, meta=META)


def test_rotation_rejects_garbage():
    for raw in ("", "x", "a.b.c", "gk_abc_def"):
        with pytest.raises(TokenNotValid):
            refresh_token_rotate(raw_token=raw, meta=META)


def test_session_revoke_of_another_users_session_is_not_found(user):
    other = UserFactory()
    session, _pair = session_open(other)
    with pytest.raises(NotFound):
        session_revoke(user=user, session_id=session.pk)
    assert Session.objects.get(pk=session.pk).revoked_at is None


def test_revocation_is_published_before_commit_and_survives_a_cache_miss(user):
    session, pair = session_open(user)
    principal = auth_state.principal_get(user_id=str(user.pk), session_id=str(session.pk))
    assert principal.role == Role.USER
    session_revoke_all(user=user, reason=RevokeReason.ADMIN)
    with pytest.raises(TokenRevoked):
        auth_state.principal_get(user_id=str(user.pk), session_id=str(session.pk))
    cache.clear()
    with pytest.raises(TokenRevoked):
        auth_state.principal_get(user_id=str(user.pk), session_id=str(session.pk))


def test_principal_answers_from_the_snapshot_and_never_loads_the_row(user, django_assert_num_queries):
    session, _pair = session_open(user)
    auth_state.principal_get(user_id=str(user.pk), session_id=str(session.pk))
    with django_assert_num_queries(0):
        principal = auth_state.principal_get(user_id=str(user.pk), session_id=str(session.pk))
        assert (principal.id, principal.pk, principal.role, principal.username) == (
            user.pk,
            user.pk,
            "user",
            "alice",
        )
        assert principal.is_authenticated and bool(principal)
        # Not a model: no password, no hidden query. A service that needs the row loads it.
        assert not hasattr(principal, "password")
        assert not hasattr(principal, "check_password")
