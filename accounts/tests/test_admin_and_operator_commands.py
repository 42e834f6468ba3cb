"""The Django admin with the test client, and the operator commands with call_command."""

import io
import subprocess
import sys
from datetime import timedelta
from http import HTTPStatus
from pathlib import Path

import pytest
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from accounts.models import Role, Session, User
from accounts.tests.factories import PASSWORD, UserFactory
from accounts.tests.helpers import bearer_client, login, staff_login
from audit.models import AuditEvent

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _roomy_rates(settings):
    settings.RATELIMIT_AUTH = "1000/m"


@pytest.fixture
def staff(client, admin_user):
    staff_login(client, admin_user)
    return client


def lock(client, username):
    for _ in range(5):
        client.post(
            "/api/v1/auth/login", {"username": username, "password": "wrong words here"}, format="json"
        )


# --- Django admin ------------------------------------------------------------------------


def test_only_admins_reach_the_admin(client, user, admin_user):
    client.force_login(user)
    assert client.get("/admin/").status_code == HTTPStatus.FOUND  # to the login page
    staff_login(client, admin_user)
    assert client.get("/admin/").status_code == HTTPStatus.OK


def test_user_changelist_columns_filters_and_search(staff, api_client, user):
    UserFactory(username="dev1", email="dev1@example.com", full_name="Dana Dev", role=Role.DEVELOPER)
    lock(api_client, "alice")
    page = staff.get("/admin/accounts/user/")
    assert page.status_code == HTTPStatus.OK
    for column in (
        b"column-role",
        b"column-is_active",
        b"column-locked",
        b"column-last_login",
        b"column-date_joined",
    ):
        assert column in page.content
    assert [u.username for u in staff.get("/admin/accounts/user/?locked=yes").context["cl"].result_list] == [
        "alice"
    ]
    assert [
        u.username for u in staff.get("/admin/accounts/user/?role__exact=developer").context["cl"].result_list
    ] == ["dev1"]
    assert [u.username for u in staff.get("/admin/accounts/user/?q=Dana").context["cl"].result_list] == [
        "dev1"
    ]


def test_change_role_through_the_admin_is_audited(staff, admin_user, user):
    response = staff.post(
        f"/admin/accounts/user/{user.pk}/change/",
        {
            "full_name": "Alice",
            "role": "developer",
            "is_active": "on",
            "auth_sessions-TOTAL_FORMS": "0",
            "auth_sessions-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == HTTPStatus.FOUND, response.content[:2000]
    user.refresh_from_db()
    assert user.role == Role.DEVELOPER
    event = AuditEvent.objects.get(event="user.role_changed")
    assert event.actor_id == admin_user.pk and event.details == {"from": "user", "to": "developer"}


def test_last_admin_cannot_be_demoted_in_the_admin(staff, admin_user):
    response = staff.post(
        f"/admin/accounts/user/{admin_user.pk}/change/",
        {
            "full_name": "",
            "role": "user",
            "is_active": "on",
            "auth_sessions-TOTAL_FORMS": "0",
            "auth_sessions-INITIAL_FORMS": "0",
        },
        follow=True,
    )
    assert b"last active admin" in response.content
    admin_user.refresh_from_db()
    assert admin_user.role == Role.ADMIN


def test_password_shows_only_the_hash_summary(staff, user):
    page = staff.get(f"/admin/accounts/user/{user.pk}/change/").content.decode()
    assert "algorithm: argon2" in page and user.password not in page
    assert "Reset password" not in page  # no link to a password form that bypasses the services


def test_actions_unlock_revoke_reset_deactivate(staff, api_client, user, django_capture_on_commit_callbacks):
    tokens = login(api_client, "alice")
    lock(api_client, "alice")

    def act(action):
        return staff.post("/admin/accounts/user/", {"action": action, "_selected_action": [user.pk]})

    assert act("unlock_selected").status_code == HTTPStatus.FOUND
    assert not staff.get("/admin/accounts/user/?locked=yes").context["cl"].result_list
    act("revoke_sessions_selected")
    assert bearer_client(tokens["access_token"]).get("/api/v1/auth/me").status_code == HTTPStatus.UNAUTHORIZED
    with django_capture_on_commit_callbacks(execute=True):
        act("send_password_reset")
    assert len(mail.outbox) == 1 and "/reset-password/" in mail.outbox[0].body
    act("deactivate_selected")
    user.refresh_from_db()
    assert not user.is_active


def test_unlock_button_on_the_user_page(staff, api_client, user):
    lock(api_client, "alice")
    page = staff.get(f"/admin/accounts/user/{user.pk}/change/")
    assert b'id="unlock-user"' in page.content and b"yes: use" in page.content
    response = staff.post(f"/admin/accounts/user/{user.pk}/unlock/")
    assert response.status_code == HTTPStatus.FOUND
    assert b"no" in staff.get(f"/admin/accounts/user/{user.pk}/change/").content
    assert staff.get(f"/admin/accounts/user/{user.pk}/unlock/").status_code == HTTPStatus.METHOD_NOT_ALLOWED


def test_sessions_inline_and_revoke_action(staff, api_client, user):
    tokens = login(api_client, "alice")
    page = staff.get(f"/admin/accounts/user/{user.pk}/change/")
    assert b"Sessions" in page.content and b"live" in page.content
    session = Session.objects.get(user=user)
    listing = staff.get("/admin/accounts/session/?q=alice")
    assert listing.context["cl"].result_count == 1
    staff.post(
        "/admin/accounts/session/", {"action": "revoke_selected", "_selected_action": [str(session.pk)]}
    )
    assert bearer_client(tokens["access_token"]).get("/api/v1/auth/me").status_code == HTTPStatus.UNAUTHORIZED
    detail = staff.get(f"/admin/accounts/session/{session.pk}/change/")
    assert detail.status_code == HTTPStatus.OK and session.refresh_jti.encode() not in detail.content


def test_axes_records_are_reachable(staff, api_client, user):
    lock(api_client, "alice")
    assert staff.get("/admin/axes/accessattempt/").status_code == HTTPStatus.OK


# --- Operator commands ----------------------------------------------------------------


def test_set_role(user, run_command):
    assert "alice: user -> developer." in run_command("set_role", "alice", "developer")
    assert User.objects.get(pk=user.pk).role == Role.DEVELOPER
    assert AuditEvent.objects.get(event="user.role_changed").actor_kind == "operator"
    assert "already has role developer" in run_command("set_role", "alice", "developer")


@pytest.mark.parametrize(
    "args,message", [(["ghost", "user"], "no user named 'ghost'"), (["root", "user"], "last active admin")]
)
def test_set_role_errors(admin_user, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("set_role", *args)


def test_set_role_rejects_an_unknown_role(user):
    with pytest.raises(CommandError, match="invalid choice"):
        call_command("set_role", "alice", "overlord")


def test_list_users_with_filters(api_client, user, admin_user, run_command):
    lock(api_client, "alice")
    everyone = run_command("list_users")
    assert "alice" in everyone and "root" in everyone and "2 user(s)" in everyone
    locked = run_command("list_users", "--locked")
    assert "alice" in locked and "root" not in locked
    admins = run_command("list_users", "--role", "admin")
    assert "root" in admins and "alice" not in admins


def test_revoke_sessions_command(api_client, user, run_command):
    tokens = login(api_client, "alice")
    assert "Revoked 1 session(s) of alice." in run_command("revoke_sessions", "alice")
    assert bearer_client(tokens["access_token"]).get("/api/v1/auth/me").status_code == HTTPStatus.UNAUTHORIZED
    with pytest.raises(CommandError, match="no user named"):
        call_command("revoke_sessions", "nobody")


def test_auth_cleanup_dry_run_then_real(api_client, user, run_command):
    login(api_client, "alice")
    Session.objects.update(expires_at=timezone.now() - timedelta(days=1))
    dry = run_command("auth_cleanup", "--dry-run")
    assert "sessions: would remove 1" in dry
    assert Session.objects.count() == 1
    real = run_command("auth_cleanup")
    assert "sessions: removed 1" in real and Session.objects.count() == 0


def test_auth_stats(user, run_command):
    output = run_command("auth_stats")
    assert "users: 1" in output and "user: 1" in output and "active_api_keys: 0" in output


def test_changepassword_is_validated_audited_and_revokes(api_client, user, monkeypatch, run_command):
    tokens = login(api_client, "alice")
    monkeypatch.setattr("sys.stdin", io.StringIO("a whole new passphrase\n"))
    assert "sessions were revoked" in run_command("changepassword", "alice", "--password-stdin")
    assert bearer_client(tokens["access_token"]).get("/api/v1/auth/me").status_code == HTTPStatus.UNAUTHORIZED
    login(api_client, "alice", "a whole new passphrase")
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    with pytest.raises(CommandError, match="new_password:"):
        call_command("changepassword", "alice", "--password-stdin")


@pytest.mark.parametrize(
    "command",
    [
        "create_user",
        "changepassword",
        "set_role",
        "list_users",
        "unlock_user",
        "revoke_sessions",
        "auth_cleanup",
        "auth_stats",
        "create_api_key",
        "list_api_keys",
        "revoke_api_key",
        "audit_verify",
        "audit_export",
        "audit_prune",
    ],
)
def test_every_command_explains_itself(command, capsys):
    with pytest.raises(SystemExit) as excinfo:
        call_command(command, "--help")
    assert excinfo.value.code == 0
    out = capsys.readouterr().out
    assert "usage:" in out and len(out) > 200


def test_bad_input_from_a_shell_is_one_line_without_a_traceback():
    result = subprocess.run(
        [sys.executable, "manage.py", "set_role", "alice", "overlord"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"DJANGO_SETTINGS_MODULE": "config.settings.test", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "invalid choice: 'overlord'" in result.stderr.strip().splitlines()[-1]


def test_admins_own_password_change_goes_through_the_service(staff, api_client, admin_user):
    tokens = login(api_client, "root")
    new = "a fresh admin passphrase"
    response = staff.post(
        "/admin/password_change/", {"old_password": PASSWORD, "new_password1": new, "new_password2": new}
    )
    assert response.status_code == HTTPStatus.FOUND and response["Location"].endswith(
        "/admin/password_change/done/"
    )
    assert bearer_client(tokens["access_token"]).get("/api/v1/auth/me").status_code == HTTPStatus.UNAUTHORIZED
    event = AuditEvent.objects.get(event="password.changed")
    assert event.actor_id == admin_user.pk and event.target_user_id == admin_user.pk
    assert staff.get("/admin/").status_code == HTTPStatus.OK  # still signed in to the admin
