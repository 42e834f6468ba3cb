"""Issue 12 (hardening): one test per finding, named after it, through the API or a command."""

import time
from datetime import timedelta
from http import HTTPStatus

import pytest
from django.core import mail
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from accounts import auth_state
from accounts.models import Role, Session, User
from accounts.services.users import user_set_role
from accounts.tests.factories import PASSWORD, UserFactory
from accounts.tests.helpers import bearer_client, login, staff_login
from accounts.tokens import refresh_token_decode
from audit.models import AuditEvent

pytestmark = pytest.mark.django_db


def _refresh(client, refresh_token):
    return client.post("/api/v1/auth/refresh", {"refresh_token": refresh_token}, format="json")


# --- 5. The blacklist button does nothing ---------------------------------------------------


def test_finding5_refresh_token_blacklisted_through_simplejwt_models_is_refused_and_ends_its_session(
    api_client, user
):
    tokens = login(api_client, user.username)
    jti = refresh_token_decode(tokens["refresh_token"])["jti"]
    BlacklistedToken.objects.create(token=OutstandingToken.objects.get(jti=jti))

    response = _refresh(api_client, tokens["refresh_token"])

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json()["code"] == "token_revoked"
    session = Session.objects.get(user=user)
    assert session.revoked_at is not None
    assert session.revoked_reason == "blacklisted"
    event = AuditEvent.objects.filter(event="session.revoked", target_ref=user.pk).latest("seq")
    assert event.details["reason"] == "blacklisted"
    assert event.details["session_id"] == str(session.pk)
    assert bearer_client(tokens["access_token"]).get("/api/v1/auth/me").status_code == HTTPStatus.UNAUTHORIZED


def test_finding5_blacklisting_in_simplejwts_admin_ends_the_session_at_once(admin_user, user, api_client):
    from django.test import Client

    tokens = login(api_client, user.username)
    outstanding = OutstandingToken.objects.get(jti=refresh_token_decode(tokens["refresh_token"])["jti"])
    browser = Client()
    staff_login(browser, admin_user)
    response = browser.post(
        "/admin/token_blacklist/blacklistedtoken/add/", {"token": outstanding.pk, "_save": "Save"}
    )
    assert response.status_code == HTTPStatus.FOUND, response.content[:2000]
    assert BlacklistedToken.objects.filter(token=outstanding).exists()
    # The session died with the click: the access token fails now, not at the next refresh.
    assert bearer_client(tokens["access_token"]).get("/api/v1/auth/me").status_code == HTTPStatus.UNAUTHORIZED
    assert Session.objects.get(user=user).revoked_reason == "blacklisted"


# --- 7. Stale power after a role change -----------------------------------------------------


def test_finding7_a_reader_that_loaded_the_old_row_before_the_commit_cannot_republish_stale_power(
    admin_user, monkeypatch, django_capture_on_commit_callbacks
):
    UserFactory(username="other-admin", email="other@example.com", role=Role.ADMIN)
    client = bearer_client(login(APIClient(), admin_user.username)["access_token"])
    from django.core.cache import cache

    cache.clear()  # cold: the next request reads the row, then fills the cache
    original = auth_state.cache_call
    demoted = []

    def reader_fills_after_the_demotion_committed(method, *args, **kwargs):
        # The reader has read the old row (role admin); the demotion commits before it writes.
        if (
            not demoted
            and args
            and args[0] == auth_state.user_key(admin_user.pk)
            and method in ("add", "set")
        ):
            demoted.append(True)
            with django_capture_on_commit_callbacks(execute=True):
                user_set_role(user_id=admin_user.pk, role=Role.GUEST)
        return original(method, *args, **kwargs)

    monkeypatch.setattr(auth_state, "cache_call", reader_fills_after_the_demotion_committed)
    assert client.get("/api/v1/auth/me").status_code == HTTPStatus.OK
    assert demoted
    monkeypatch.setattr(auth_state, "cache_call", original)

    assert client.get("/api/v1/admin/users").status_code == HTTPStatus.FORBIDDEN
    assert client.get("/api/v1/auth/me").json()["role"] == Role.GUEST


# --- 9. Change-password is a password oracle ----------------------------------------------------


@override_settings(AXES_FAILURE_LIMIT=3)
def test_finding9_wrong_current_passwords_are_audited_and_revoke_the_session_at_the_limit(auth_client, user):
    body = {"current_password": "not the password", "new_password": "another long passphrase 42"}
    for _ in range(3):
        response = auth_client.post("/api/v1/auth/change-password", body, format="json")
        assert response.status_code == HTTPStatus.BAD_REQUEST
    assert AuditEvent.objects.filter(event="password.change_failed", target_ref=user.pk).count() == 3

    again = auth_client.post(
        "/api/v1/auth/change-password", {**body, "current_password": PASSWORD}, format="json"
    )
    assert again.status_code == HTTPStatus.UNAUTHORIZED
    assert again.json()["code"] == "token_revoked"
    assert Session.objects.get(user=user).revoked_at is not None
    assert User.objects.get(pk=user.pk).check_password(PASSWORD)


# --- 10. Sessions slide forever ----------------------------------------------------------------


@override_settings(SESSION_ABSOLUTE_LIFETIME_SECONDS=3600)
def test_finding10_sessions_end_at_their_absolute_lifetime_however_often_they_refresh(api_client, user):
    tokens = login(api_client, user.username)
    session = Session.objects.get(user=user)
    assert session.absolute_expires_at == session.created_at + timedelta(seconds=3600)
    # A refresh token never outlives the absolute deadline.
    new = _refresh(api_client, tokens["refresh_token"]).json()
    exp = refresh_token_decode(new["refresh_token"])["exp"]
    assert exp <= session.absolute_expires_at.timestamp()
    assert new["refresh_expires_in"] <= 3600

    # The deadline passes (the row says so); the next refresh answers session_expired.
    Session.objects.filter(pk=session.pk).update(absolute_expires_at=timezone.now() - timedelta(seconds=1))
    response = _refresh(api_client, new["refresh_token"])
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json()["code"] == "session_expired"


@override_settings(SESSION_ABSOLUTE_LIFETIME_SECONDS=1)
def test_finding10_a_refresh_token_capped_at_the_deadline_answers_session_expired_after_it(api_client, user):
    tokens = login(api_client, user.username)
    assert tokens["refresh_expires_in"] <= 1
    time.sleep(1.5)  # past the deadline: the token's own exp (capped there) has passed too
    response = _refresh(api_client, tokens["refresh_token"])
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json()["code"] == "session_expired"


def test_finding10_remember_me_sessions_get_the_longer_absolute_lifetime(api_client, user, settings):
    login(api_client, user.username, remember_me=True)
    session = Session.objects.get(user=user)
    assert session.absolute_expires_at == session.created_at + timedelta(
        seconds=settings.SESSION_ABSOLUTE_REMEMBER_ME_SECONDS
    )
    assert settings.SESSION_ABSOLUTE_LIFETIME_SECONDS == 2592000
    assert settings.SESSION_ABSOLUTE_REMEMBER_ME_SECONDS == 90 * 86400


# --- 11. IDN email duplicates ---------------------------------------------------------------------

FULLWIDTH = "victim@\uff45xample.com"  # "ｅxample.com": NFKC makes it example.com


def test_finding11_idn_lookalike_email_cannot_register_a_second_account(api_client, db):
    UserFactory(username="victim", email="victim@example.com")
    response = api_client.post(
        "/api/v1/auth/register",
        {"username": "mallory", "email": FULLWIDTH, "password": PASSWORD},
        format="json",
    )
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "email" in response.json()["errors"]
    mixed = api_client.post(
        "/api/v1/auth/register",
        {"username": "bob", "email": "Bob@B\u00fccher.DE", "password": PASSWORD},
        format="json",
    )
    assert mixed.status_code == HTTPStatus.CREATED
    assert User.objects.get(username="bob").email == "Bob@xn--bcher-kva.de"


def test_finding11_login_and_password_reset_find_the_account_by_its_normalised_email(
    api_client, db, django_capture_on_commit_callbacks
):
    UserFactory(username="victim", email="victim@example.com")
    assert login(api_client, FULLWIDTH)["user"]["username"] == "victim"
    with override_settings(RATELIMIT_AUTH="2/m"):
        for address in (FULLWIDTH, "victim@EXAMPLE.com"):
            with django_capture_on_commit_callbacks(execute=True):
                response = api_client.post("/api/v1/auth/password-reset", {"email": address}, format="json")
            assert response.status_code == HTTPStatus.ACCEPTED
        # One per-address bucket, whatever the spelling of the domain.
        third = api_client.post(
            "/api/v1/auth/password-reset", {"email": FULLWIDTH}, format="json", REMOTE_ADDR="198.51.100.7"
        )
        assert third.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert [m.to for m in mail.outbox] == [["victim@example.com"], ["victim@example.com"]]


def test_finding11_data_migration_normalises_stored_emails_and_renames_later_duplicates(db):
    import importlib

    from django.apps import apps

    older = UserFactory(username="older", email="victim@example.org")
    newer = UserFactory(username="newer", email="someone@example.net")
    plain = UserFactory(username="plain", email="plain@example.com")
    # Rows written before the fix: a look-alike spelling of the older account's address.
    User.objects.filter(pk=older.pk).update(
        email="victim@\uff45xample.com", date_joined=timezone.now() - timedelta(days=9)
    )
    User.objects.filter(pk=newer.pk).update(email="VICTIM@example.com")
    User.objects.filter(pk=plain.pk).update(email="plain@B\u00fccher.de")

    migration = importlib.import_module("accounts.migrations.0005_normalise_email_domains")
    renamed = migration.normalise_emails(apps)

    assert User.objects.get(pk=older.pk).email == "victim@example.com"
    assert User.objects.get(pk=newer.pk).email == f"VICTIM+duplicate-{newer.pk}@example.com.invalid"
    assert User.objects.get(pk=plain.pk).email == "plain@xn--bcher-kva.de"
    assert renamed == [(newer.pk, "VICTIM@example.com", f"VICTIM+duplicate-{newer.pk}@example.com.invalid")]
