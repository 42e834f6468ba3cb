"""accounts.services.passwords: the rules, with their exact errors."""

import pytest

from accounts.errors import CurrentPasswordWrong
from accounts.services.passwords import password_change
from accounts.tests.factories import SESSION_META as META

pytestmark = pytest.mark.django_db


def test_password_change_rejects_a_wrong_current_password(user):
    with pytest.raises(CurrentPasswordWrong):
        password_change(
            user_id=user.pk, current_password="nope", new_password="another passphrase", meta=META
        )
