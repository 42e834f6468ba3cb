"""The rules, at the service level, with their exact errors."""

import pytest
from django.core.cache import cache

from accounts import auth_state, services
from accounts.client import RequestMeta
from accounts.errors import TokenNotValid, TokenReused, TokenRevoked
from accounts.models import RevokeReason, Role, Session
from accounts.tests.factories import PASSWORD, UserFactory
from config.errors import NotFound, ServiceError

pytestmark = pytest.mark.django_db
META = RequestMeta(ip_address="203.0.113.9", user_agent="pytest")


def start(user) -> tuple:
    session, pair = services._session_start(user=user, remember_me=False, meta=META)
    return session, pair


def test_user_create_defaults_and_admin_implies_staff():
    plain = UserFactory()
    admin = UserFactory(role=Role.ADMIN)
    assert plain.role == Role.USER and not plain.is_staff and not plain.is_superuser
    assert admin.is_staff and admin.is_superuser and admin.has_perm("anything")


def test_user_create_rejects_unknown_role():
    with pytest.raises(ServiceError) as excinfo:
        services.user_create(username="x1x", email="x@example.com", password=PASSWORD, role="root")
    assert excinfo.value.errors == {"role": ["Unknown role."]}


def test_user_without_password_cannot_log_in(rf):
    user = services.user_create(username="svc", email="svc@example.com", password=None)
    assert not user.has_usable_password()


def test_session_records_where_it_came_from(user):
    session, _pair = start(user)
    session.refresh_from_db()
    assert session.ip_address == "203.0.113.9" and session.user_agent == "pytest"
    assert session.is_live()


def test_rotation_swaps_the_jti_and_detects_reuse(user):
    session, pair = start(user)
    _user, new_pair = services.refresh_token_rotate(raw_token=pair.refresh_token, meta=META)
    session.refresh_from_db()
    assert session.refresh_jti == new_pair.refresh_jti != pair.refresh_jti
    with pytest.raises(TokenReused):
        services.refresh_token_rotate(raw_token=pair.refresh_token, meta=META)
    session.refresh_from_db()
    assert session.revoked_reason == RevokeReason.TOKEN_REUSE
    with pytest.raises(TokenRevoked):
        services.refresh_token_rotate(raw_token=new_pair.refresh_token, meta=META)


def test_rotation_rejects_garbage():
    for raw in ("", "x", "a.b.c", "gk_abc_def"):
        with pytest.raises(TokenNotValid):
            services.refresh_token_rotate(raw_token=raw, meta=META)


def test_session_revoke_of_another_users_session_is_not_found(user):
    other = UserFactory()
    session, _pair = start(other)
    with pytest.raises(NotFound):
        services.session_revoke(user=user, session_id=session.pk)
    assert Session.objects.get(pk=session.pk).revoked_at is None


def test_revocation_is_published_before_commit_and_survives_a_cache_miss(user):
    session, pair = start(user)
    principal = auth_state.principal_get(user_id=str(user.pk), session_id=str(session.pk))
    assert principal.role == Role.USER
    services.session_revoke_all(user=user, reason=RevokeReason.ADMIN)
    with pytest.raises(TokenRevoked):
        auth_state.principal_get(user_id=str(user.pk), session_id=str(session.pk))
    cache.clear()
    with pytest.raises(TokenRevoked):
        auth_state.principal_get(user_id=str(user.pk), session_id=str(session.pk))


def test_principal_snapshot_answers_without_loading_the_row(user, django_assert_num_queries):
    session, _pair = start(user)
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
    with django_assert_num_queries(1):  # anything beyond the snapshot loads the row, once
        assert principal.password.startswith("argon2$")
        assert principal.check_password(PASSWORD)


def test_password_change_rejects_a_wrong_current_password(user):
    from accounts.errors import CurrentPasswordWrong

    with pytest.raises(CurrentPasswordWrong):
        services.password_change(
            user=user, current_password="nope", new_password="another passphrase", meta=META
        )


def test_deactivation_revokes_every_session(user):
    start(user), start(user)
    services.user_set_active(user=user, is_active=False)
    assert set(Session.objects.values_list("revoked_reason", flat=True)) == {RevokeReason.DEACTIVATED}
