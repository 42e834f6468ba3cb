from http import HTTPStatus

import pytest

from accounts.models import User
from accounts.services.users import EMAIL_TAKEN, USERNAME_TAKEN
from accounts.tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def register(client, **overrides):
    body = {"username": "dave", "email": "dave@example.com", "password": PASSWORD, **overrides}
    return client.post("/api/v1/auth/register", body, format="json")


def test_register_stores_an_argon2_hash(api_client):
    assert register(api_client).status_code == HTTPStatus.CREATED
    user = User.objects.get(username="dave")
    assert user.password.startswith("argon2$")
    assert user.check_password(PASSWORD)
    assert user.role == "user" and not user.is_staff


def test_register_ignores_a_role_in_the_body(api_client):
    response = register(api_client, role="admin")
    assert response.status_code == HTTPStatus.CREATED
    assert response.json()["role"] == "user"


@pytest.mark.parametrize(
    "overrides,field,message",
    [
        ({"username": "DAVE"}, "username", USERNAME_TAKEN),
        ({"username": "other", "email": "Dave@Example.COM"}, "email", EMAIL_TAKEN),
    ],
)
def test_username_and_email_are_unique_case_insensitively(api_client, overrides, field, message):
    register(api_client)
    response = register(api_client, **overrides)
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["code"] == "validation_error"
    assert response.json()["errors"][field] == [message]
    assert User.objects.count() == 1


@pytest.mark.parametrize(
    "password",
    ["short pass", "123456789012345", "password1234", "dave@example.com!"],
    ids=["too-short", "numeric", "common", "similar-to-email"],
)
def test_weak_passwords_are_password_invalid(api_client, password):
    response = register(api_client, password=password)
    assert response.status_code == HTTPStatus.BAD_REQUEST
    body = response.json()
    assert body["code"] == "password_invalid"
    assert body["errors"]["password"]
    assert not User.objects.exists()


def test_unicode_and_spaces_are_fine_and_not_trimmed(api_client):
    password = "  ünïcødé pässwörd with spaces  "
    assert register(api_client, password=password).status_code == HTTPStatus.CREATED
    assert User.objects.get().check_password(password)


def test_huge_password_is_a_400_not_a_slow_hash(api_client):
    response = register(api_client, password="x" * 100_000)
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "password" in response.json()["errors"]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"username": "dave"},
        {"username": "a b", "email": "dave@example.com", "password": PASSWORD},
        {"username": "da@ve", "email": "dave@example.com", "password": PASSWORD},
        {"username": "dave", "email": "not-an-email", "password": PASSWORD},
        {"username": ["dave"], "email": {"a": 1}, "password": 5},
    ],
)
def test_bad_registration_input_is_a_clear_400(api_client, body):
    response = api_client.post("/api/v1/auth/register", body, format="json")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["code"] in {"validation_error", "password_invalid"}
    assert response.json()["errors"]
    assert not User.objects.exists()
