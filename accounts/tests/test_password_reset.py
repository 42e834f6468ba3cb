import re
from http import HTTPStatus

import pytest
from django.core import mail

from accounts.models import Session
from accounts.tests.factories import PASSWORD
from accounts.tests.helpers import bearer_client, login

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a completely new passphrase"


def request_reset(client, email: str, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/api/v1/auth/password-reset", {"email": email}, format="json")
    assert response.status_code == HTTPStatus.ACCEPTED
    return response


def reset_link(message) -> tuple[str, str, str]:
    match = re.search(r"http://testserver(/reset-password/([^/]+)/([^/]+)/)", message.body)
    assert match, message.body
    return match.group(1), match.group(2), match.group(3)


def test_reset_request_is_202_whether_or_not_the_email_exists(
    api_client, user, django_capture_on_commit_callbacks
):
    known = request_reset(api_client, "ALICE@example.com", django_capture_on_commit_callbacks)
    unknown = request_reset(api_client, "nobody@example.com", django_capture_on_commit_callbacks)
    assert known.content == unknown.content
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["alice@example.com"]


def test_reset_through_the_api_revokes_every_session(api_client, user, django_capture_on_commit_callbacks):
    tokens = login(api_client, "alice")
    request_reset(api_client, "alice@example.com", django_capture_on_commit_callbacks)
    _path, uid, token = reset_link(mail.outbox[0])

    response = api_client.post(
        "/api/v1/auth/password-reset/confirm",
        {"uid": uid, "token": token, "new_password": NEW_PASSWORD},
        format="json",
    )
    assert response.status_code == HTTPStatus.NO_CONTENT
    assert bearer_client(tokens["access_token"]).get("/api/v1/auth/me").status_code == HTTPStatus.UNAUTHORIZED
    assert Session.objects.get().revoked_reason == "password_reset"
    login(api_client, "alice", NEW_PASSWORD)

    # The link works once.
    again = api_client.post(
        "/api/v1/auth/password-reset/confirm",
        {"uid": uid, "token": token, "new_password": "yet another passphrase"},
        format="json",
    )
    assert again.status_code == HTTPStatus.BAD_REQUEST
    assert again.json()["errors"] == {"token": ["The password reset link is invalid or has expired."]}


@pytest.mark.parametrize("uid,token", [("garbage", "x-y"), ("MQ", "bad-token"), ("", ""), ("\x00", "\x00")])
def test_bad_reset_links_are_400(api_client, user, uid, token):
    response = api_client.post(
        "/api/v1/auth/password-reset/confirm",
        {"uid": uid, "token": token, "new_password": NEW_PASSWORD},
        format="json",
    )
    assert response.status_code == HTTPStatus.BAD_REQUEST


def test_weak_new_password_keeps_the_link_usable(api_client, user, django_capture_on_commit_callbacks):
    request_reset(api_client, "alice@example.com", django_capture_on_commit_callbacks)
    _path, uid, token = reset_link(mail.outbox[0])
    weak = api_client.post(
        "/api/v1/auth/password-reset/confirm",
        {"uid": uid, "token": token, "new_password": "short"},
        format="json",
    )
    assert weak.status_code == HTTPStatus.BAD_REQUEST
    assert weak.json()["code"] == "password_invalid"
    ok = api_client.post(
        "/api/v1/auth/password-reset/confirm",
        {"uid": uid, "token": token, "new_password": NEW_PASSWORD},
        format="json",
    )
    assert ok.status_code == HTTPStatus.NO_CONTENT


def test_reset_through_the_html_page(client, api_client, user, django_capture_on_commit_callbacks):
    tokens = login(api_client, "alice")
    request_reset(api_client, "alice@example.com", django_capture_on_commit_callbacks)
    path, _uid, _token = reset_link(mail.outbox[0])

    # Django's view moves the token out of the URL before showing the form.
    first = client.get(path)
    assert first.status_code == HTTPStatus.FOUND
    form_url = first["Location"]
    assert "set-password" in form_url
    page = client.get(form_url)
    assert page.status_code == HTTPStatus.OK
    assert b"Choose a new password" in page.content

    mismatch = client.post(form_url, {"new_password1": NEW_PASSWORD, "new_password2": "different words here"})
    assert mismatch.status_code == HTTPStatus.OK
    assert b"didn" in mismatch.content  # "The two password fields didn’t match."

    done = client.post(form_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done.status_code == HTTPStatus.FOUND
    assert client.get(done["Location"]).status_code == HTTPStatus.OK
    assert bearer_client(tokens["access_token"]).get("/api/v1/auth/me").status_code == HTTPStatus.UNAUTHORIZED
    login(api_client, "alice", NEW_PASSWORD)

    used = client.get(path)
    assert b"This link no longer works" in used.content


def test_html_page_refuses_links_of_a_deactivated_account(
    client, api_client, user, django_capture_on_commit_callbacks
):
    from accounts.services.users import user_set_active

    request_reset(api_client, "alice@example.com", django_capture_on_commit_callbacks)
    path, _uid, _token = reset_link(mail.outbox[0])
    user_set_active(user_id=user.pk, is_active=False)
    first = client.get(path, follow=True)
    assert b"This link no longer works" in first.content
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
