"""Email verification: modes, links (single use, expiring), the page, resend, registration privacy."""

import re
from http import HTTPStatus

import pytest
from django.core import mail

from accounts.errors import EMAIL_NOT_VERIFIED, VERIFY_LINK_INVALID
from accounts.models import User
from accounts.services.users import USERNAME_TAKEN
from accounts.services.verification import email_verification_tokens
from accounts.tests.factories import PASSWORD, UserFactory
from accounts.tests.helpers import bearer_client, login
from audit.models import AuditEvent

pytestmark = pytest.mark.django_db

LINK = re.compile(r"http://testserver/verify-email/(?P<uid>[^/]+)/(?P<token>[^/]+)/")


@pytest.fixture(autouse=True)
def _sync_mail(settings):
    settings.EMAIL_SEND_ASYNC = False
    settings.RATELIMIT_AUTH = "1000/m"


def register(client, username="newbie", email="newbie@example.com"):
    body = {"username": username, "email": email, "password": PASSWORD}
    return client.post("/api/v1/auth/register", body, format="json")


def mailed_link(django_capture_on_commit_callbacks, client, **kwargs):
    with django_capture_on_commit_callbacks(execute=True):
        response = register(client, **kwargs)
    match = LINK.search(mail.outbox[-1].body)
    return response, match


def test_optional_mode_mails_a_link_and_login_works_before_verifying(
    api_client, django_capture_on_commit_callbacks
):
    response, match = mailed_link(django_capture_on_commit_callbacks, api_client)
    assert response.status_code == HTTPStatus.CREATED
    assert response.json()["email_verified"] is False
    assert mail.outbox[0].to == ["newbie@example.com"] and match
    assert "access_token" in login(api_client, "newbie")


def test_the_api_verifies_once_and_audits(api_client, django_capture_on_commit_callbacks):
    _, match = mailed_link(django_capture_on_commit_callbacks, api_client)
    body = {"uid": match["uid"], "token": match["token"]}
    assert (
        api_client.post("/api/v1/auth/verify-email", body, format="json").status_code == HTTPStatus.NO_CONTENT
    )
    assert User.objects.get(username="newbie").email_verified is True
    again = api_client.post("/api/v1/auth/verify-email", body, format="json")
    assert again.status_code == HTTPStatus.BAD_REQUEST
    assert again.json()["errors"] == {"token": [VERIFY_LINK_INVALID]}
    assert AuditEvent.objects.filter(event="email.verified").count() == 1
    me = bearer_client(login(api_client, "newbie")["access_token"]).get("/api/v1/auth/me").json()
    assert me["email_verified"] is True


def test_links_expire(api_client, settings, django_capture_on_commit_callbacks):
    _, match = mailed_link(django_capture_on_commit_callbacks, api_client)
    settings.EMAIL_VERIFICATION_TIMEOUT = -1
    body = {"uid": match["uid"], "token": match["token"]}
    assert (
        api_client.post("/api/v1/auth/verify-email", body, format="json").status_code
        == HTTPStatus.BAD_REQUEST
    )


def test_a_reset_token_is_not_a_verification_token(api_client, user):
    from django.contrib.auth.tokens import default_token_generator
    from django.utils.http import urlsafe_base64_encode

    User.objects.filter(pk=user.pk).update(email_verified=False)
    user.refresh_from_db()
    uid = urlsafe_base64_encode(str(user.pk).encode())
    body = {"uid": uid, "token": default_token_generator.make_token(user)}
    assert (
        api_client.post("/api/v1/auth/verify-email", body, format="json").status_code
        == HTTPStatus.BAD_REQUEST
    )
    assert email_verification_tokens.check_token(user, email_verification_tokens.make_token(user))


def test_the_page_verifies_on_post_only(client, api_client, django_capture_on_commit_callbacks):
    _, match = mailed_link(django_capture_on_commit_callbacks, api_client)
    path = match.group(0).replace("http://testserver", "")
    assert client.get(path).status_code == HTTPStatus.OK
    assert User.objects.get(username="newbie").email_verified is False  # a mail scanner's GET
    done = client.post(path)
    assert done.status_code == HTTPStatus.OK and b'id="verified"' in done.content
    assert User.objects.get(username="newbie").email_verified is True
    assert client.get(path).status_code == HTTPStatus.BAD_REQUEST


def test_mandatory_mode_refuses_login_after_a_correct_password_only(
    api_client, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_VERIFICATION = "mandatory"
    response, match = mailed_link(django_capture_on_commit_callbacks, api_client)
    assert response.status_code == HTTPStatus.ACCEPTED and set(response.json()) == {"detail"}
    wrong = api_client.post(
        "/api/v1/auth/login", {"username": "newbie", "password": "wrong words"}, format="json"
    )
    assert wrong.status_code == HTTPStatus.UNAUTHORIZED
    refused = api_client.post(
        "/api/v1/auth/login", {"username": "newbie", "password": PASSWORD}, format="json"
    )
    assert refused.status_code == HTTPStatus.FORBIDDEN
    assert refused.json() == {"detail": EMAIL_NOT_VERIFIED, "code": "email_not_verified"}
    body = {"uid": match["uid"], "token": match["token"]}
    api_client.post("/api/v1/auth/verify-email", body, format="json")
    assert "access_token" in login(api_client, "newbie")


def test_mandatory_registration_hides_taken_emails_and_tells_their_owner(
    api_client, settings, user, django_capture_on_commit_callbacks
):
    settings.EMAIL_VERIFICATION = "mandatory"
    with django_capture_on_commit_callbacks(execute=True):
        taken = register(api_client, username="someone", email="ALICE@example.com")
    fresh = register(api_client, username="another", email="another@example.com")
    assert taken.status_code == fresh.status_code == HTTPStatus.ACCEPTED
    assert taken.json() == fresh.json()
    assert not User.objects.filter(username="someone").exists()
    assert mail.outbox[0].to == ["alice@example.com"]
    assert "already belongs to the account alice" in mail.outbox[0].body
    weak = {"username": "someone", "email": "alice@example.com", "password": "short"}
    weak_fresh = {**weak, "email": "fresh@example.com"}
    for body in (weak, weak_fresh):  # a weak password is a 400 for taken and fresh alike
        response = api_client.post("/api/v1/auth/register", body, format="json")
        assert (
            response.status_code == HTTPStatus.BAD_REQUEST and response.json()["code"] == "password_invalid"
        )
    name_taken = register(api_client, username="ALICE", email="x@example.com")
    assert name_taken.status_code == HTTPStatus.BAD_REQUEST
    assert name_taken.json()["errors"] == {"username": [USERNAME_TAKEN]}


def test_none_mode_sends_no_mail(api_client, settings, django_capture_on_commit_callbacks):
    settings.EMAIL_VERIFICATION = "none"
    with django_capture_on_commit_callbacks(execute=True):
        assert register(api_client).status_code == HTTPStatus.CREATED
    assert mail.outbox == []


def test_resend_mails_a_new_link_to_an_unverified_user(api_client, django_capture_on_commit_callbacks):
    register(api_client)
    client = bearer_client(login(api_client, "newbie")["access_token"])
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post("/api/v1/auth/verify-email/resend").status_code == HTTPStatus.ACCEPTED
    match = LINK.search(mail.outbox[-1].body)
    body = {"uid": match["uid"], "token": match["token"]}
    assert (
        api_client.post("/api/v1/auth/verify-email", body, format="json").status_code == HTTPStatus.NO_CONTENT
    )


def test_accounts_made_by_operators_count_as_verified(run_command):
    run_command("create_user", "ops", "--email", "ops@example.com", stdin="")
    assert User.objects.get(username="ops").email_verified is True
    assert UserFactory(username="made", email="made@example.com").email_verified is True
