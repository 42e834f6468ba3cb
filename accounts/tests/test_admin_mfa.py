"""The Django admin's second factor (test client; the browser walk is tests/test_admin_browser.py)."""

import re
from base64 import b32encode
from http import HTTPStatus

import pytest
from axes.models import AccessAttempt
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.admin_site import CODE_REQUIRED
from accounts.errors import MFA_CODE_INVALID
from accounts.models import Role, User
from accounts.tests.factories import PASSWORD, UserFactory
from accounts.tests.helpers import totp_code, totp_code_unused
from audit.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _roomy_rates(settings):
    settings.RATELIMIT_AUTH = "1000/m"


def admin_login(client, code: str = ""):
    return client.post(
        "/admin/login/?next=/admin/", {"username": "root", "password": PASSWORD, "otp_token": code}
    )


def test_the_login_form_has_the_otp_token_field(client):
    assert b'name="otp_token"' in client.get("/admin/login/").content


def test_an_enrolled_admin_needs_a_code(client, admin_user):
    response = admin_login(client)
    assert response.status_code == HTTPStatus.OK
    assert CODE_REQUIRED in response.content.decode()
    assert client.get("/admin/").status_code == HTTPStatus.FOUND


def test_a_wrong_code_is_refused_audited_and_counted(client, admin_user):
    response = admin_login(client, "000000")
    assert MFA_CODE_INVALID in response.content.decode()
    assert client.get("/admin/").status_code == HTTPStatus.FOUND
    event = AuditEvent.objects.get(event="auth.mfa_failed")
    assert event.details == {"channel": "admin"} and event.target_label == "root"
    assert AccessAttempt.objects.get(username="root").failures_since_start == 1


def test_a_right_code_opens_the_admin(client, admin_user):
    device = TOTPDevice.objects.get(user=admin_user)
    response = admin_login(client, totp_code_unused(device))
    assert response.status_code == HTTPStatus.FOUND and response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == HTTPStatus.OK
    assert client.get("/admin/accounts/user/").status_code == HTTPStatus.OK


def test_an_unenrolled_admin_is_walked_to_enrolment_before_any_other_page(client):
    UserFactory(username="root", email="root@example.com", role=Role.ADMIN)
    response = admin_login(client)
    assert response.status_code == HTTPStatus.FOUND
    for path in ("/admin/", "/admin/accounts/user/", "/admin/audit/auditevent/", "/admin/password_change/"):
        page = client.get(path)
        assert page.status_code == HTTPStatus.FOUND and page["Location"] == "/admin/mfa/setup/", path
    setup = client.get("/admin/mfa/setup/")
    assert setup.status_code == HTTPStatus.OK
    assert b'<div id="qr-code"><svg' in setup.content
    device = TOTPDevice.objects.get(user__username="root", confirmed=False)
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', setup.content.decode()).group(1)
    assert secret == b32encode(device.bin_key).decode()
    assert secret in client.get("/admin/mfa/setup/").content.decode()  # the same device again
    wrong = client.post("/admin/mfa/setup/", {"code": "000000"})
    assert MFA_CODE_INVALID in wrong.content.decode()
    done = client.post("/admin/mfa/setup/", {"code": totp_code(device)})
    assert done.status_code == HTTPStatus.OK and done.content.count(b"<li><code>") == 10
    assert User.objects.get(username="root").mfa_enabled is True
    assert client.get("/admin/").status_code == HTTPStatus.OK
    assert AuditEvent.objects.filter(event="mfa.enabled").count() == 1


def test_an_enrolled_admins_session_without_a_code_is_sent_back_to_log_in(client, admin_user):
    client.force_login(admin_user)  # a cookie session that never proved the second factor
    response = client.get("/admin/")
    assert response.status_code == HTTPStatus.FOUND and response["Location"].startswith("/admin/login/")
    assert client.get("/admin/").status_code == HTTPStatus.FOUND


def test_roles_outside_mfa_required_for_roles_log_in_without_enrolling(client, settings):
    settings.MFA_REQUIRED_FOR_ROLES = frozenset()
    UserFactory(username="root", email="root@example.com", role=Role.ADMIN)
    admin_login(client)
    assert client.get("/admin/").status_code == HTTPStatus.OK
