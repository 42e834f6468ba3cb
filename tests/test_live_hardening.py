"""Issue 12 (hardening) across real processes: gunicorn workers on PostgreSQL and Redis."""

import re
from http import HTTPStatus

import pytest
import requests

from accounts.models import Role
from accounts.tests.factories import PASSWORD, UserFactory
from accounts.tests.helpers import mfa_enrol, totp_code_unused
from tests.conftest import UNLIMITED, start_gunicorn

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def api_login(server, username: str, recovery_code: str | None = None) -> dict:
    """Both steps for an enrolled admin, the second with a recovery code: the TOTP codes of the
    current window may all be spent by the enrolment and the admin login."""
    response = server.post("/api/v1/auth/login", {"username": username, "password": PASSWORD})
    assert response.status_code == HTTPStatus.OK, response.text
    if not response.json().get("mfa_required"):
        return response.json()
    response = server.post(
        "/api/v1/auth/login/mfa", {"mfa_token": response.json()["mfa_token"], "code": recovery_code}
    )
    assert response.status_code == HTTPStatus.OK, response.text
    return response.json()


def admin_enrol(**fields):
    """An admin as every admin must be (MFA_REQUIRED_FOR_ROLES): enrolled in TOTP MFA."""
    user = UserFactory(role=Role.ADMIN, **fields)
    device, codes = mfa_enrol(user)
    return user, device, codes


def admin_login(server, username: str, device) -> requests.Session:
    browser = requests.Session()
    page = browser.get(server.url + "/admin/login/", timeout=30)
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    response = browser.post(
        server.url + "/admin/login/?next=/admin/",
        data={
            "csrfmiddlewaretoken": csrf,
            "username": username,
            "password": PASSWORD,
            "otp_token": totp_code_unused(device),
            "next": "/admin/",
        },
        headers={"Referer": server.url + "/admin/login/"},
        allow_redirects=False,
        timeout=30,
    )
    assert response.status_code == HTTPStatus.FOUND, response.text[:2000]
    assert browser.get(server.url + "/admin/", allow_redirects=False, timeout=30).status_code == HTTPStatus.OK
    return browser


def test_finding6_revoking_all_sessions_also_ends_the_users_django_admin_cookie_sessions(live_gunicorn):
    _root, device, codes = admin_enrol(username="root", email="root@example.com")
    browser = admin_login(live_gunicorn, "root", device)
    tokens = api_login(live_gunicorn, "root", codes[0])

    response = live_gunicorn.post("/api/v1/auth/logout-all", {}, headers=bearer(tokens["access_token"]))
    assert response.status_code == HTTPStatus.NO_CONTENT

    page = browser.get(live_gunicorn.url + "/admin/", allow_redirects=False, timeout=30)
    assert page.status_code == HTTPStatus.FOUND
    assert page.headers["Location"].startswith("/admin/login/")


def test_finding6_admin_revoke_of_another_user_ends_their_admin_cookie_sessions(live_gunicorn):
    _root, _device, codes = admin_enrol(username="root", email="root@example.com")
    other, device, _codes = admin_enrol(username="deputy", email="deputy@example.com")
    browser = admin_login(live_gunicorn, "deputy", device)
    tokens = api_login(live_gunicorn, "root", codes[0])

    response = live_gunicorn.post(
        f"/api/v1/admin/users/{other.pk}/revoke-sessions", {}, headers=bearer(tokens["access_token"])
    )
    assert response.status_code == HTTPStatus.NO_CONTENT
    page = browser.get(live_gunicorn.url + "/admin/", allow_redirects=False, timeout=30)
    assert page.status_code == HTTPStatus.FOUND


def test_finding8_tokens_and_keys_of_one_user_share_one_budget_across_workers(transactional_db, tmp_path):
    server = start_gunicorn(tmp_path, workers=2, extra_env={**UNLIMITED, "RATELIMIT_USER": "8/h"})
    try:
        UserFactory(username="alice", email="alice@example.com")
        tokens = api_login(server, "alice")
        headers = bearer(tokens["access_token"])
        keys = []
        for name in ("a", "b"):
            response = server.post(
                "/api/v1/api-keys", {"name": name, "scopes": ["profile:read"]}, headers=headers
            )
            assert response.status_code == HTTPStatus.CREATED, response.text
            keys.append(response.json()["key"])
        credentials = [headers, {"X-API-Key": keys[0]}, {"X-API-Key": keys[1]}]
        answers = [server.get("/api/v1/auth/me", headers=credentials[i % 3]).status_code for i in range(12)]
        # Two creations and six reads fit the budget of eight; the rest are refused, whichever
        # worker answered and whichever credential was used.
        assert answers.count(HTTPStatus.OK) == 6, answers
        assert answers[6:] == [HTTPStatus.TOO_MANY_REQUESTS] * 6, answers
    finally:
        server.process.terminate()
        server.process.wait(timeout=10)
