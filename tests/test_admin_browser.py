"""What staff do in the Django admin, in a real headless Chromium (Debian's, never downloaded).

Each step saves a screenshot under test-artifacts/screenshots/ (or $GATEHOUSE_ARTIFACTS).
"""

import re

import pytest
from rest_framework.test import APIClient

from accounts.errors import MFA_CODE_INVALID
from accounts.models import Role
from accounts.tests.factories import PASSWORD, UserFactory
from accounts.tests.helpers import mfa_enrol, totp_code_unused
from apikeys.models import APIKey
from apikeys.services import apikey_create
from tests.conftest import chromium_tab

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def page(live_server, settings):
    settings.RATELIMIT_AUTH = "1000/m"
    with chromium_tab(width=1280, height=900) as tab:
        tab.base = live_server.url
        yield tab


def admin_login(page) -> None:
    staffer = UserFactory(username="staffer", email="staffer@example.com", role=Role.ADMIN)
    device, _codes = mfa_enrol(staffer)  # admins log in with a second factor
    page.goto(page.base + "/admin/")
    page.fill("#id_username", "staffer")
    page.fill("#id_password", PASSWORD)
    page.fill("#id_otp_token", totp_code_unused(device))
    page.shot("01-login")
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")
    page.shot("02-admin-index")


def lock_out(username: str) -> None:
    client = APIClient()
    for _ in range(5):
        client.post(
            "/api/v1/auth/login", {"username": username, "password": "wrong words here"}, format="json"
        )


def test_find_a_locked_user_and_unlock_them(page):
    UserFactory(username="alice", email="alice@example.com")
    UserFactory(username="bob", email="bob@example.com")
    lock_out("alice")
    admin_login(page)
    page.get_by_role("link", name="Users", exact=True).click()
    page.locator("#changelist-filter").get_by_role("link", name="Locked", exact=True).click()
    page.shot("03-locked-users")
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 1 and "alice" in rows.first.inner_text()
    page.click("#result_list >> text=alice")
    assert "yes: use" in page.inner_text(".field-locked_status")
    page.click("#unlock-user")
    page.wait_for_selector(".messagelist")
    page.shot("04-unlocked")
    assert "Unlocked alice" in page.inner_text(".messagelist")
    assert page.inner_text(".field-locked_status .readonly").strip() == "no"
    login = APIClient().post("/api/v1/auth/login", {"username": "alice", "password": PASSWORD}, format="json")
    assert login.status_code == 200


def test_change_a_role(page):
    UserFactory(username="carol", email="carol@example.com")
    admin_login(page)
    page.get_by_role("link", name="Users", exact=True).click()
    page.fill("#searchbar", "carol")
    page.press("#searchbar", "Enter")
    page.click("#result_list >> text=carol")
    page.select_option("#id_role", "developer")
    page.shot("05-change-role")
    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist")
    page.shot("06-role-changed")
    assert "Developer" in page.inner_text("#result_list")
    me = APIClient()
    token = me.post("/api/v1/auth/login", {"username": "carol", "password": PASSWORD}, format="json").json()
    me.credentials(HTTP_AUTHORIZATION=f"Bearer {token['access_token']}")
    assert me.get("/api/v1/auth/me").json()["role"] == "developer"


def test_revoke_a_leaked_key(page):
    owner = UserFactory(username="dave", email="dave@example.com")
    key, full_key = apikey_create(owner=owner, name="ci deploy", scopes=["profile:read"])
    admin_login(page)
    page.locator("#apikeys-apikey").get_by_role("link", name="API keys").click()
    page.fill("#searchbar", key.prefix)
    page.press("#searchbar", "Enter")
    page.shot("07-key-found")
    assert full_key.split("_", 2)[2] not in page.content()
    page.check("#result_list input.action-select")
    page.select_option("select[name=action]", "revoke_selected")
    page.click("button[name=index]")
    page.wait_for_selector(".messagelist")
    page.shot("08-key-revoked")
    assert "Revoked 1 key(s)" in page.inner_text(".messagelist")
    assert APIKey.objects.get(pk=key.pk).revoked_at is not None
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=full_key)
    assert client.get("/api/v1/auth/me").status_code == 401


def test_read_what_happened_to_an_account(page):
    UserFactory(username="erin", email="erin@example.com")
    lock_out("erin")
    admin_login(page)
    page.get_by_role("link", name="Users", exact=True).click()
    page.click("#result_list >> text=erin")
    page.click("text=Every audit event for erin")
    page.wait_for_selector("#result_list")
    page.shot("09-audit-for-erin")
    text = page.inner_text("#result_list")
    assert "Locked out" in text and "Login failed" in text and "User created by staff or operator" in text
    page.click("#result_list tbody tr >> nth=0 >> a")
    page.shot("10-audit-event")
    assert re.search(r"Locked out|Login failed", page.content())


def test_an_admin_is_walked_through_mfa_enrolment_then_logs_in_with_a_code(page):
    from base64 import b32decode

    from django_otp.oath import totp
    from django_otp.plugins.otp_totp.models import TOTPDevice

    UserFactory(username="newadmin", email="newadmin@example.com", role=Role.ADMIN)
    page.goto(page.base + "/admin/")
    page.fill("#id_username", "newadmin")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#qr-code svg")
    page.shot("mfa-01-enrolment-qr-code")
    assert page.url.endswith("/admin/mfa/setup/")
    page.goto(page.base + "/admin/accounts/user/")  # nothing else opens before enrolment
    assert page.url.endswith("/admin/mfa/setup/")
    # What an authenticator app does with the key it scanned: RFC 6238 over the shared secret.
    secret = page.inner_text("#totp-secret").strip()
    page.fill("#id_code", f"{totp(b32decode(secret)):06d}")
    page.click("#mfa-enrol-form input[type=submit]")
    page.wait_for_selector("#recovery-codes")
    page.shot("mfa-02-recovery-codes")
    assert page.locator("#recovery-codes li").count() == 10
    page.click("#continue")
    page.wait_for_selector("#site-name")
    page.shot("mfa-03-admin-index")
    page.click("#logout-form button")
    page.wait_for_selector("text=Logged out")

    page.goto(page.base + "/admin/")
    page.fill("#id_username", "newadmin")
    page.fill("#id_password", PASSWORD)
    page.fill("#id_otp_token", "000000")
    page.click("input[type=submit]")
    page.wait_for_selector(".errornote")
    page.shot("mfa-04-wrong-code-refused")
    assert page.inner_text(".errornote").strip() == MFA_CODE_INVALID
    assert "/admin/login/" in page.url

    device = TOTPDevice.objects.get(user__username="newadmin", confirmed=True)
    page.fill("#id_username", "newadmin")
    page.fill("#id_password", PASSWORD)
    page.fill("#id_otp_token", totp_code_unused(device))
    page.click("input[type=submit]")
    page.wait_for_selector("#content-main .app-accounts")
    page.shot("mfa-05-logged-in-with-a-code")
    assert "/admin/login/" not in page.url


def test_a_user_verifies_their_email_by_opening_the_mailed_link(page, settings):
    from django.core import mail

    from accounts.models import User

    settings.EMAIL_SEND_ASYNC = False
    body = {"username": "verifier", "email": "verifier@example.com", "password": PASSWORD}
    assert APIClient().post("/api/v1/auth/register", body, format="json").status_code == 201
    link = re.search(r"http://testserver(/verify-email/\S+/)", mail.outbox[-1].body).group(1)
    page.goto(page.base + link)
    page.shot("verify-01-page")
    assert User.objects.get(username="verifier").email_verified is False
    page.click("#verify")
    page.wait_for_selector("#verified")
    page.shot("verify-02-verified")
    assert User.objects.get(username="verifier").email_verified is True
    page.goto(page.base + link)  # a used link
    assert "This link does not work" in page.inner_text("h1")


def test_a_mistyped_admin_login_is_audited_and_failed_login_records_cannot_be_deleted(page):
    staffer = UserFactory(username="staffer", email="staffer@example.com", role=Role.ADMIN)
    device, _codes = mfa_enrol(staffer)  # admins log in with a second factor
    UserFactory(username="frank", email="frank@example.com")
    APIClient().post("/api/v1/auth/login", {"username": "frank", "password": "wrong guess"}, format="json")
    page.goto(page.base + "/admin/")
    page.fill("#id_username", "staffer")
    page.fill("#id_password", "not my password at all")
    page.click("input[type=submit]")
    page.wait_for_selector(".errornote")
    page.shot("11-admin-login-mistyped")
    page.fill("#id_password", PASSWORD)
    page.fill("#id_otp_token", totp_code_unused(device))
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")
    page.goto(page.base + "/admin/audit/auditevent/?q=staffer")
    page.wait_for_selector("#result_list")
    page.shot("12-admin-logins-audited")
    text = page.inner_text("#result_list")
    assert "Login failed" in text and "Login succeeded" in text
    page.goto(page.base + "/admin/axes/accessattempt/")
    page.wait_for_selector("#result_list")
    page.shot("13-attempts-read-only")
    assert "frank" in page.inner_text("#result_list")
    assert page.locator("select[name=action]").count() == 0
    page.click("#result_list tbody tr >> nth=0 >> a")
    assert page.locator("a.deletelink").count() == 0 and page.locator("input[name=_save]").count() == 0
