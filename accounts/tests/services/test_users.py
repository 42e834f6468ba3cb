"""accounts.services.users: the rules, with their exact errors."""

import pytest

from accounts.models import RevokeReason, Role, Session
from accounts.services.users import user_create, user_set_active
from accounts.tests.factories import PASSWORD, UserFactory, session_open
from core.errors import ServiceError

pytestmark = pytest.mark.django_db


def test_user_create_defaults_and_admin_implies_staff():
    plain = UserFactory()
    admin = UserFactory(role=Role.ADMIN)
    assert plain.role == Role.USER and not plain.is_staff and not plain.is_superuser
    assert admin.is_staff and admin.is_superuser and admin.has_perm("anything")


def test_user_create_rejects_unknown_role():
    with pytest.raises(ServiceError) as excinfo:
        user_create(username="x1x", email="x@example.com", password=PASSWORD, role="root")
    assert excinfo.value.errors == {"role": ["Unknown role."]}


def test_user_without_password_cannot_log_in(rf):
    user = user_create(username="svc", email="svc@example.com", password=None)
    assert not user.has_usable_password()


def test_deactivation_revokes_every_session(user):
    session_open(user), session_open(user)
    user_set_active(user_id=user.pk, is_active=False)
    assert set(Session.objects.values_list("revoked_reason", flat=True)) == {RevokeReason.DEACTIVATED}
