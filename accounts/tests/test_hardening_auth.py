"""Issue 12 (hardening): the admin's logins are audited and axes' records read-only; mail links
come from PUBLIC_BASE_URL. Through the admin, the API and mail."""

from http import HTTPStatus

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin
from django.core import mail
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from accounts.tests.factories import PASSWORD
from accounts.tests.helpers import staff_login, totp_code_unused
from audit.models import AuditEvent

pytestmark = pytest.mark.django_db
WRONG = "definitely not the password"


def events(name: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(event=name).order_by("seq"))


# --- 4. Django admin logins audited; axes' records read-only -----------------------------------


def admin_login(client: Client, username: str, password: str, ip: str = "198.51.100.20", otp_token: str = ""):
    return client.post(
        "/admin/login/?next=/admin/",
        {"username": username, "password": password, "otp_token": otp_token},
        REMOTE_ADDR=ip,
    )


def test_admin_logins_success_failure_and_lockout_are_audited_with_channel_admin(admin_user, settings):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert admin_login(client, "root", WRONG).status_code == HTTPStatus.OK  # the form again
    locked = admin_login(client, "root", WRONG)
    assert locked.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert admin_login(client, "root", PASSWORD).status_code == HTTPStatus.TOO_MANY_REQUESTS

    failed = events("auth.login_failed")
    assert [(e.details["channel"], e.details["reason"]) for e in failed] == [
        ("admin", "invalid_credentials")
    ] * 5 + [("admin", "account_locked")]
    assert all(e.target_user_id == admin_user.pk and e.ip_address == "198.51.100.20" for e in failed)
    [lockout] = events("auth.locked_out")
    assert lockout.details["channel"] == "admin" and lockout.details["lock"] == "pair"

    device = TOTPDevice.objects.get(user=admin_user, confirmed=True)  # admins log in with a code
    ok = admin_login(client, "root", PASSWORD, ip="203.0.113.20", otp_token=totp_code_unused(device))
    assert ok.status_code == HTTPStatus.FOUND and ok["Location"] == "/admin/"
    [success] = events("auth.login_succeeded")
    assert success.details == {"channel": "admin"} and success.actor_id == admin_user.pk
    assert success.ip_address == "203.0.113.20"


def test_admin_login_with_the_right_password_but_no_staff_access_is_audited(user):
    assert admin_login(Client(), "alice", PASSWORD).status_code == HTTPStatus.OK
    [refused] = events("auth.login_failed")
    assert (
        refused.details == {"reason": "not_staff", "channel": "admin"} and refused.target_user_id == user.pk
    )


def test_axes_records_are_read_only_in_the_admin(admin_user, user):
    for _ in range(2):
        APIClient().post("/api/v1/auth/login", {"username": "alice", "password": WRONG}, format="json")
    attempt = AccessAttempt.objects.get()
    failure = AccessFailureLog.objects.create(username="alice", ip_address="198.51.100.1", user_agent="x")
    client = Client()
    staff_login(client, admin_user)

    for model in (AccessAttempt, AccessFailureLog, AccessLog):
        model_admin = admin.site._registry[model]
        assert not model_admin.has_delete_permission(None) and not model_admin.has_change_permission(None)
        assert not model_admin.has_add_permission(None)
    changelist = client.get("/admin/axes/accessattempt/")
    assert changelist.status_code == HTTPStatus.OK and b'name="action"' not in changelist.content
    view = client.get(f"/admin/axes/accessattempt/{attempt.pk}/change/")
    assert view.status_code == HTTPStatus.OK and b'name="_save"' not in view.content  # view only
    assert client.post(f"/admin/axes/accessattempt/{attempt.pk}/delete/", {"post": "yes"}).status_code == 403
    assert (
        client.post(f"/admin/axes/accessfailurelog/{failure.pk}/delete/", {"post": "yes"}).status_code == 403
    )
    bulk = client.post(
        "/admin/axes/accessattempt/",
        {"action": "delete_selected", "_selected_action": [attempt.pk], "post": "yes"},
    )
    assert bulk.status_code in (HTTPStatus.OK, HTTPStatus.FOUND)
    assert (
        client.post(f"/admin/axes/accessattempt/{attempt.pk}/change/", {"username": "x"}).status_code == 403
    )
    assert client.get("/admin/axes/accessattempt/add/").status_code == 403
    assert AccessAttempt.objects.filter(pk=attempt.pk, failures_since_start=2, username="alice").exists()
    assert AccessFailureLog.objects.filter(pk=failure.pk).exists()


# --- 13. Links in mail come from PUBLIC_BASE_URL, never the Host header ------------------------


def test_password_reset_link_is_built_from_public_base_url_not_the_host_header(
    user, settings, django_capture_on_commit_callbacks
):
    settings.ALLOWED_HOSTS = ["*"]
    settings.PUBLIC_BASE_URL = "https://id.example.com"
    with django_capture_on_commit_callbacks(execute=True):
        response = APIClient().post(
            "/api/v1/auth/password-reset",
            {"email": "alice@example.com"},
            format="json",
            HTTP_HOST="evil.example",
        )
    assert response.status_code == HTTPStatus.ACCEPTED
    [message] = mail.outbox
    assert "https://id.example.com/reset-password/" in message.body
    assert "evil.example" not in message.body


def test_staff_sent_reset_link_is_built_from_public_base_url(
    admin_user, user, settings, django_capture_on_commit_callbacks
):
    settings.ALLOWED_HOSTS = ["*"]
    settings.PUBLIC_BASE_URL = "https://id.example.com"
    client = Client(HTTP_HOST="evil.example")
    staff_login(client, admin_user)
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/admin/accounts/user/", {"action": "send_password_reset", "_selected_action": [user.pk]})
    [message] = mail.outbox
    assert "https://id.example.com/reset-password/" in message.body and "evil.example" not in message.body
