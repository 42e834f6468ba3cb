"""MFA over the API: enrolment, the two-step login, recovery codes, amr, the admin rule."""

from http import HTTPStatus

import jwt
import pytest
from axes.models import AccessAttempt
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.errors import MFA_CODE_INVALID, MFA_REQUIRED, MFA_TOKEN_INVALID
from accounts.models import MfaChallenge, RecoveryCode, Role, Session, User
from accounts.services.mfa import MFA_ALREADY_ENABLED, keyed_hash
from accounts.tests.factories import PASSWORD, UserFactory
from accounts.tests.helpers import (
    bearer_client,
    login,
    login_mfa,
    login_password_step,
    mfa_enrol,
    totp_code,
    totp_code_unused,
)
from audit.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _roomy_rates(settings):
    settings.RATELIMIT_AUTH = "1000/m"


def claims(access_token: str) -> dict:
    return jwt.decode(access_token, options={"verify_signature": False})


def events(name: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(event=name))


def mfa_step(client, mfa_token: str, code: str):
    return client.post("/api/v1/auth/login/mfa", {"mfa_token": mfa_token, "code": code}, format="json")


@pytest.fixture
def enrolled(user):
    device, codes = mfa_enrol(user)
    return device, codes


# --- enrolment --------------------------------------------------------------------------


def test_setup_returns_secret_uri_and_inline_svg_qr_and_an_unconfirmed_device(auth_client, user):
    response = auth_client.post("/api/v1/auth/mfa/totp/setup", {"password": PASSWORD}, format="json")
    assert response.status_code == HTTPStatus.OK
    body = response.json()
    assert set(body) == {"secret", "otpauth_uri", "qr_svg"}
    assert body["otpauth_uri"].startswith("otpauth://totp/Gatehouse%3Aalice?")
    assert f"secret={body['secret']}" in body["otpauth_uri"] and "issuer=Gatehouse" in body["otpauth_uri"]
    assert body["qr_svg"].startswith("<svg") and "</svg>" in body["qr_svg"]
    assert response.headers["Cache-Control"] == "no-store"
    device = TOTPDevice.objects.get(user=user)
    assert device.confirmed is False
    assert User.objects.get(pk=user.pk).mfa_enabled is False


def test_setup_needs_the_password(auth_client):
    response = auth_client.post("/api/v1/auth/mfa/totp/setup", {"password": "not my password"}, format="json")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["code"] == "invalid_credentials"


def test_setup_again_replaces_an_unconfirmed_device(auth_client, user):
    first = auth_client.post("/api/v1/auth/mfa/totp/setup", {"password": PASSWORD}, format="json").json()
    second = auth_client.post("/api/v1/auth/mfa/totp/setup", {"password": PASSWORD}, format="json").json()
    assert first["secret"] != second["secret"]
    assert TOTPDevice.objects.filter(user=user).count() == 1


def test_confirm_enables_mfa_and_returns_ten_hashed_single_use_recovery_codes(auth_client, user):
    auth_client.post("/api/v1/auth/mfa/totp/setup", {"password": PASSWORD}, format="json")
    device = TOTPDevice.objects.get(user=user)
    response = auth_client.post("/api/v1/auth/mfa/totp/confirm", {"code": totp_code(device)}, format="json")
    assert response.status_code == HTTPStatus.OK
    codes = response.json()["recovery_codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    stored = set(RecoveryCode.objects.filter(user=user).values_list("code_hash", flat=True))
    assert len(stored) == 10
    for code in codes:
        assert code not in stored and code.replace("-", "") not in stored
        assert keyed_hash("recovery-code", code.replace("-", "")) in stored
    assert auth_client.get("/api/v1/auth/me").json()["mfa_enabled"] is True
    assert [e.target_ref for e in events("mfa.enabled")] == [user.pk]


def test_confirm_with_a_wrong_code_keeps_mfa_off(auth_client, user):
    auth_client.post("/api/v1/auth/mfa/totp/setup", {"password": PASSWORD}, format="json")
    response = auth_client.post("/api/v1/auth/mfa/totp/confirm", {"code": "000000"}, format="json")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["code"] == "mfa_invalid"
    assert response.json()["detail"] == MFA_CODE_INVALID
    assert User.objects.get(pk=user.pk).mfa_enabled is False


def test_setup_is_refused_once_mfa_is_enabled(auth_client, enrolled):
    response = auth_client.post("/api/v1/auth/mfa/totp/setup", {"password": PASSWORD}, format="json")
    assert response.status_code == HTTPStatus.CONFLICT
    assert response.json()["detail"] == MFA_ALREADY_ENABLED


def test_an_api_key_cannot_enrol(auth_client):
    created = auth_client.post(
        "/api/v1/api-keys", {"name": "bot", "scopes": ["profile:read", "profile:write"]}, format="json"
    )
    client = bearer_client(created.json()["key"])
    response = client.post("/api/v1/auth/mfa/totp/setup", {"password": PASSWORD}, format="json")
    assert response.status_code == HTTPStatus.FORBIDDEN


# --- the two-step login ---------------------------------------------------------------


def test_enrolled_login_answers_mfa_required_without_tokens_or_session(api_client, user, enrolled):
    body = login_password_step(api_client, "alice")
    assert body["mfa_required"] is True
    assert body["methods"] == ["totp", "recovery_code"]
    assert "access_token" not in body and "refresh_token" not in body
    assert Session.objects.filter(user=user).count() == 0


def test_login_with_totp_gives_tokens_with_amr_pwd_otp_kept_on_refresh(api_client, user, enrolled):
    device, _ = enrolled
    tokens = login_mfa(api_client, "alice", device)
    assert claims(tokens["access_token"])["amr"] == ["pwd", "otp"]
    assert tokens["user"]["mfa_enabled"] is True
    assert Session.objects.get(user=user).amr == "pwd otp"
    refreshed = api_client.post(
        "/api/v1/auth/refresh", {"refresh_token": tokens["refresh_token"]}, format="json"
    ).json()
    assert claims(refreshed["access_token"])["amr"] == ["pwd", "otp"]
    event = AuditEvent.objects.filter(event="auth.login_succeeded").first()
    assert event.details["amr"] == ["pwd", "otp"] and event.details["mfa_method"] == "totp"


def test_password_only_login_carries_amr_pwd(api_client, user):
    tokens = login(api_client, "alice")
    assert claims(tokens["access_token"])["amr"] == ["pwd"]
    refreshed = api_client.post(
        "/api/v1/auth/refresh", {"refresh_token": tokens["refresh_token"]}, format="json"
    ).json()
    assert claims(refreshed["access_token"])["amr"] == ["pwd"]


def test_a_totp_code_is_accepted_once(api_client, enrolled):
    device, _ = enrolled
    code = totp_code_unused(device)
    first = login_password_step(api_client, "alice")
    assert mfa_step(api_client, first["mfa_token"], code).status_code == HTTPStatus.OK
    second = login_password_step(api_client, "alice")
    replay = mfa_step(api_client, second["mfa_token"], code)
    assert replay.status_code == HTTPStatus.UNAUTHORIZED
    assert replay.json()["code"] == "mfa_invalid"


def test_a_recovery_code_works_once(api_client, enrolled):
    _, codes = enrolled
    first = login_password_step(api_client, "alice")
    response = mfa_step(api_client, first["mfa_token"], codes[0].upper())
    assert response.status_code == HTTPStatus.OK
    assert claims(response.json()["access_token"])["amr"] == ["pwd", "otp"]
    second = login_password_step(api_client, "alice")
    again = mfa_step(api_client, second["mfa_token"], codes[0])
    assert again.status_code == HTTPStatus.UNAUTHORIZED
    assert mfa_step(api_client, second["mfa_token"], codes[1]).status_code == HTTPStatus.OK


def test_the_mfa_token_is_single_use_once_it_succeeds(api_client, enrolled):
    device, codes = enrolled
    first = login_password_step(api_client, "alice")
    assert mfa_step(api_client, first["mfa_token"], codes[0]).status_code == HTTPStatus.OK
    again = mfa_step(api_client, first["mfa_token"], totp_code_unused(device))
    assert again.status_code == HTTPStatus.UNAUTHORIZED
    assert again.json() == {"detail": MFA_TOKEN_INVALID, "code": "mfa_invalid"}


def test_the_sixth_attempt_fails_even_with_the_right_code(api_client, settings, enrolled):
    settings.AXES_FAILURE_LIMIT = 100  # this test is about the token, not the lockout
    settings.AXES_IP_FAILURE_LIMIT = 400
    device, _ = enrolled
    first = login_password_step(api_client, "alice")
    for _ in range(5):
        wrong = mfa_step(api_client, first["mfa_token"], "000000")
        assert wrong.status_code == HTTPStatus.UNAUTHORIZED
        assert wrong.json() == {"detail": MFA_CODE_INVALID, "code": "mfa_invalid"}
    sixth = mfa_step(api_client, first["mfa_token"], totp_code_unused(device))
    assert sixth.status_code == HTTPStatus.UNAUTHORIZED
    assert sixth.json()["detail"] == MFA_TOKEN_INVALID
    assert MfaChallenge.objects.get().attempts == 5
    assert len(events("auth.mfa_failed")) == 5


def test_the_mfa_token_expires_after_five_minutes(api_client, enrolled):
    device, _ = enrolled
    first = login_password_step(api_client, "alice")
    MfaChallenge.objects.update(expires_at=timezone.now())
    response = mfa_step(api_client, first["mfa_token"], totp_code_unused(device))
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json()["detail"] == MFA_TOKEN_INVALID


def test_the_mfa_token_lives_five_minutes(api_client, enrolled):
    login_password_step(api_client, "alice")
    challenge = MfaChallenge.objects.get()
    assert (challenge.expires_at - challenge.created_at).total_seconds() == 300


def test_a_forged_or_malformed_mfa_token_is_mfa_invalid(api_client, enrolled):
    first = login_password_step(api_client, "alice")
    challenge_id = first["mfa_token"].split(".")[0]
    for token in (challenge_id + ".forged", "nonsense", "a.b.c", challenge_id):
        response = mfa_step(api_client, token, "123456")
        assert response.status_code == HTTPStatus.UNAUTHORIZED, token
        assert response.json()["code"] == "mfa_invalid"


def test_a_password_change_between_the_steps_kills_the_mfa_token(api_client, user, enrolled):
    device, _ = enrolled
    first = login_password_step(api_client, "alice")
    u = User.objects.get(pk=user.pk)
    u.set_password("another long passphrase here")
    u.save()
    response = mfa_step(api_client, first["mfa_token"], totp_code_unused(device))
    assert response.status_code == HTTPStatus.UNAUTHORIZED


def test_wrong_codes_are_audited_and_count_toward_the_lockout(api_client, enrolled):
    device, _ = enrolled
    first = login_password_step(api_client, "alice")
    for _ in range(4):
        mfa_step(api_client, first["mfa_token"], "000000")
    failed = events("auth.mfa_failed")
    assert len(failed) == 4 and failed[0].outcome == "failure" and failed[0].target_label == "alice"
    assert AccessAttempt.objects.get(username="alice").failures_since_start == 4
    # One more failure (a wrong password this time) locks the pair: a code no longer helps.
    bad = api_client.post(
        "/api/v1/auth/login", {"username": "alice", "password": "wrong words"}, format="json"
    )
    assert bad.status_code == HTTPStatus.TOO_MANY_REQUESTS
    locked = mfa_step(api_client, first["mfa_token"], totp_code_unused(device))
    assert locked.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert locked.json()["code"] == "account_locked"


def test_a_right_password_alone_does_not_clear_failed_codes(api_client, enrolled):
    first = login_password_step(api_client, "alice")
    mfa_step(api_client, first["mfa_token"], "000000")
    assert login_password_step(api_client, "alice")["mfa_required"] is True
    assert AccessAttempt.objects.get(username="alice").failures_since_start == 1


def test_a_successful_second_step_clears_the_failures(api_client, enrolled):
    device, _ = enrolled
    first = login_password_step(api_client, "alice")
    mfa_step(api_client, first["mfa_token"], "000000")
    assert mfa_step(api_client, first["mfa_token"], totp_code_unused(device)).status_code == HTTPStatus.OK
    assert not AccessAttempt.objects.filter(username="alice").exists()


# --- disable, regenerate, reset ---------------------------------------------------------


def test_disable_needs_password_and_code_then_login_is_one_step(api_client, user, enrolled):
    device, _ = enrolled
    client = bearer_client(login_mfa(api_client, "alice", device)["access_token"])
    wrong = client.delete("/api/v1/auth/mfa/totp", {"password": PASSWORD, "code": "000000"}, format="json")
    assert wrong.status_code == HTTPStatus.BAD_REQUEST and wrong.json()["code"] == "mfa_invalid"
    bad_pw = client.delete(
        "/api/v1/auth/mfa/totp", {"password": "nope nope", "code": totp_code_unused(device)}, format="json"
    )
    assert bad_pw.status_code == HTTPStatus.BAD_REQUEST and bad_pw.json()["code"] == "invalid_credentials"
    response = client.delete(
        "/api/v1/auth/mfa/totp", {"password": PASSWORD, "code": totp_code_unused(device)}, format="json"
    )
    assert response.status_code == HTTPStatus.NO_CONTENT
    assert not TOTPDevice.objects.filter(user=user).exists()
    assert not RecoveryCode.objects.filter(user=user).exists()
    assert client.get("/api/v1/auth/me").json()["mfa_enabled"] is False
    assert "access_token" in login(api_client, "alice")
    assert len(events("mfa.disabled")) == 1


def test_regenerating_recovery_codes_kills_the_old_ones(api_client, user, enrolled):
    device, old_codes = enrolled
    client = bearer_client(login_mfa(api_client, "alice", device)["access_token"])
    response = client.post("/api/v1/auth/mfa/recovery-codes", {"password": PASSWORD}, format="json")
    assert response.status_code == HTTPStatus.OK
    new_codes = response.json()["recovery_codes"]
    assert len(new_codes) == 10 and not set(new_codes) & set(old_codes)
    first = login_password_step(api_client, "alice")
    assert mfa_step(api_client, first["mfa_token"], old_codes[1]).status_code == HTTPStatus.UNAUTHORIZED
    assert mfa_step(api_client, first["mfa_token"], new_codes[0]).status_code == HTTPStatus.OK
    assert len(events("mfa.recovery_codes_regenerated")) == 1


def test_mfa_reset_command_removes_factors_revokes_sessions_and_is_audited(
    api_client, user, enrolled, run_command
):
    device, _ = enrolled
    client = bearer_client(login_mfa(api_client, "alice", device)["access_token"])
    out = run_command("mfa_reset", "alice")
    assert "MFA reset for alice: 1 session(s) revoked" in out
    assert client.get("/api/v1/auth/me").status_code == HTTPStatus.UNAUTHORIZED
    assert User.objects.get(pk=user.pk).mfa_enabled is False
    assert not TOTPDevice.objects.filter(user=user).exists()
    event = events("mfa.reset")[0]
    assert event.actor_kind == "operator" and event.details == {"was_enabled": True, "sessions_revoked": 1}
    assert "access_token" in login(api_client, "alice")


# --- MFA_REQUIRED_FOR_ROLES -------------------------------------------------------------


def test_admin_without_mfa_gets_mfa_required_then_200_after_enrolling_and_a_code_login(api_client):
    admin_user = UserFactory(username="root", email="root@example.com", role=Role.ADMIN)
    client = bearer_client(login(api_client, "root")["access_token"])
    refused = client.get("/api/v1/admin/stats")
    assert refused.status_code == HTTPStatus.FORBIDDEN
    assert refused.json() == {"detail": MFA_REQUIRED, "code": "mfa_required"}
    # Self-service still works, so the admin can enrol with this session.
    assert client.get("/api/v1/auth/me").status_code == HTTPStatus.OK
    setup = client.post("/api/v1/auth/mfa/totp/setup", {"password": PASSWORD}, format="json")
    assert setup.status_code == HTTPStatus.OK
    device = TOTPDevice.objects.get(user=admin_user)
    assert (
        client.post("/api/v1/auth/mfa/totp/confirm", {"code": totp_code(device)}, format="json").status_code
        == HTTPStatus.OK
    )
    # The old session still lacks otp; a login with a code gets through.
    assert client.get("/api/v1/admin/stats").status_code == HTTPStatus.FORBIDDEN
    otp_client = bearer_client(login_mfa(api_client, "root", device)["access_token"])
    assert otp_client.get("/api/v1/admin/stats").status_code == HTTPStatus.OK


def test_roles_outside_mfa_required_for_roles_use_the_admin_api_with_a_password(api_client, settings):
    UserFactory(username="root", email="root@example.com", role=Role.ADMIN)
    settings.MFA_REQUIRED_FOR_ROLES = frozenset()
    client = bearer_client(login(api_client, "root")["access_token"])
    assert client.get("/api/v1/admin/stats").status_code == HTTPStatus.OK


def test_an_admin_key_needs_an_otp_session_to_be_created_and_then_works(api_client):
    admin_user = UserFactory(username="root", email="root@example.com", role=Role.ADMIN)
    client = bearer_client(login(api_client, "root")["access_token"])
    body = {"name": "ops", "scopes": ["admin:read"]}
    refused = client.post("/api/v1/api-keys", body, format="json")
    assert refused.status_code == HTTPStatus.FORBIDDEN and refused.json()["code"] == "mfa_required"
    device, _ = mfa_enrol(admin_user)
    otp_client = bearer_client(login_mfa(api_client, "root", device)["access_token"])
    created = otp_client.post("/api/v1/api-keys", body, format="json")
    assert created.status_code == HTTPStatus.CREATED
    key_client = bearer_client(created.json()["key"])
    assert key_client.get("/api/v1/admin/stats").status_code == HTTPStatus.OK


def test_a_user_role_creates_keys_from_a_password_session(auth_client):
    response = auth_client.post(
        "/api/v1/api-keys", {"name": "mine", "scopes": ["profile:read"]}, format="json"
    )
    assert response.status_code == HTTPStatus.CREATED


def test_user_objects_everywhere_carry_mfa_enabled(api_client, user, enrolled):
    device, _ = enrolled
    tokens = login_mfa(api_client, "alice", device)
    client = bearer_client(tokens["access_token"])
    assert client.get("/api/v1/auth/me").json()["mfa_enabled"] is True
    assert client.get("/api/v1/auth/me").json()["mfa_enabled"] is True  # from the warm cache
    admin = UserFactory(username="boss", email="boss@example.com", role=Role.ADMIN)
    admin_device, _ = mfa_enrol(admin)
    admin_client = bearer_client(login_mfa(api_client, "boss", admin_device)["access_token"])
    listed = admin_client.get("/api/v1/admin/users?search=alice").json()["results"][0]
    assert listed["mfa_enabled"] is True
    assert admin_client.get(f"/api/v1/admin/users/{user.pk}").json()["mfa_enabled"] is True
