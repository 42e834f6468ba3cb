"""Password history: change, reset, the admin's password page and changepassword refuse the
last PASSWORD_HISTORY_COUNT passwords, kept as hashes only."""

from http import HTTPStatus

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.core.management.base import CommandError
from django.utils.http import urlsafe_base64_encode

from accounts.models import PasswordHistory, User
from accounts.services.history import PASSWORD_REUSED
from accounts.tests.factories import PASSWORD
from accounts.tests.helpers import bearer_client, login, staff_login

pytestmark = pytest.mark.django_db
NEW = [f"fresh passphrase number {n} here" for n in range(7)]


@pytest.fixture(autouse=True)
def _roomy_rates(settings):
    settings.RATELIMIT_AUTH = "1000/m"


def change(client, current: str, new: str):
    return client.post(
        "/api/v1/auth/change-password", {"current_password": current, "new_password": new}, format="json"
    )


def test_change_refuses_the_current_and_the_last_five_passwords_then_allows_the_sixth(api_client, user):
    client = bearer_client(login(api_client, "alice")["access_token"])
    refused = change(client, PASSWORD, PASSWORD)
    assert refused.status_code == HTTPStatus.BAD_REQUEST
    assert refused.json()["code"] == "password_invalid"
    assert refused.json()["errors"] == {"new_password": [PASSWORD_REUSED]}
    current = PASSWORD
    for new in NEW[:5]:
        response = change(client, current, new)
        assert response.status_code == HTTPStatus.OK, response.content
        client, current = bearer_client(response.json()["access_token"]), new
    # History: NEW[0..4]; PASSWORD is now six passwords back, NEW[0] five.
    assert change(client, current, NEW[0]).status_code == HTTPStatus.BAD_REQUEST
    assert change(client, current, PASSWORD).status_code == HTTPStatus.OK


def test_history_keeps_only_hashes_and_only_n_rows(api_client, user, settings):
    client = bearer_client(login(api_client, "alice")["access_token"])
    current = PASSWORD
    for new in NEW:
        client = bearer_client(change(client, current, new).json()["access_token"])
        current = new
    rows = list(PasswordHistory.objects.filter(user=user).values_list("password", flat=True))
    assert len(rows) == settings.PASSWORD_HISTORY_COUNT
    assert all(row.startswith("argon2$") for row in rows)
    assert not any(new in row for row in rows for new in NEW)


def test_reset_refuses_a_recent_password(api_client, user):
    uid = urlsafe_base64_encode(str(user.pk).encode())
    token = default_token_generator.make_token(User.objects.get(pk=user.pk))
    body = {"uid": uid, "token": token, "new_password": PASSWORD}
    response = api_client.post("/api/v1/auth/password-reset/confirm", body, format="json")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["code"] == "password_invalid"
    body["new_password"] = NEW[0]
    assert api_client.post("/api/v1/auth/password-reset/confirm", body, format="json").status_code == 204


def test_changepassword_command_refuses_a_recent_password(run_command, user):
    with pytest.raises(CommandError, match="used recently"):
        run_command("changepassword", "alice", "--password-stdin", stdin=PASSWORD + "\n")


def test_the_admins_password_page_refuses_a_recent_password(client, admin_user):
    staff_login(client, admin_user)
    body = {"old_password": PASSWORD, "new_password1": PASSWORD, "new_password2": PASSWORD}
    page = client.post("/admin/password_change/", body)
    assert page.status_code == HTTPStatus.OK
    assert PASSWORD_REUSED in page.content.decode()
    assert User.objects.get(pk=admin_user.pk).check_password(PASSWORD)


def test_zero_turns_history_off(api_client, user, settings):
    settings.PASSWORD_HISTORY_COUNT = 0
    client = bearer_client(login(api_client, "alice")["access_token"])
    assert change(client, PASSWORD, PASSWORD).status_code == HTTPStatus.OK
