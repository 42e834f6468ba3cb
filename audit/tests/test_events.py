"""One audit event per security action, with the right actor and target, and no secrets."""

import json
from http import HTTPStatus

import pytest
from django.core.management import call_command

from accounts.selectors import user_by_identifier
from accounts.services.users import user_delete, user_set_active, user_set_role
from accounts.tests.factories import PASSWORD, UserFactory
from accounts.tests.helpers import bearer_client, login
from audit.models import AuditEvent
from audit.selectors import audit_chain_verify

pytestmark = pytest.mark.django_db


def events(name: str | None = None) -> list[AuditEvent]:
    rows = AuditEvent.objects.order_by("seq")
    return list(rows.filter(event=name) if name else rows)


def only(name: str) -> AuditEvent:
    rows = events(name)
    assert len(rows) == 1, [e.event for e in events()]
    return rows[0]


def test_register_is_audited_with_the_client_as_anonymous_actor(api_client):
    api_client.post(
        "/api/v1/auth/register",
        {"username": "erin", "email": "erin@example.com", "password": PASSWORD},
        format="json",
        HTTP_USER_AGENT="signup-form/2",
        HTTP_X_REQUEST_ID="req-abc-12345",
    )
    event = only("user.registered")
    assert event.actor_kind == "anonymous" and event.actor_id is None
    assert event.target_label == "erin" and event.target_user.username == "erin"
    assert event.ip_address == "127.0.0.1" and event.user_agent == "signup-form/2"
    assert event.request_id == "req-abc-12345"


def test_login_success_and_failures_with_reasons(api_client, user):
    login(api_client, "alice")
    ok = only("auth.login_succeeded")
    assert ok.actor_id == user.pk and ok.target_user_id == user.pk and ok.outcome == "success"

    api_client.post("/api/v1/auth/login", {"username": "alice", "password": "wrong one here"}, format="json")
    api_client.post("/api/v1/auth/login", {"username": "ghost", "password": "wrong one here"}, format="json")
    UserFactory(username="sleepy", email="sleepy@example.com")
    user_set_active(user_id=user_by_identifier("sleepy").pk, is_active=False)
    api_client.post("/api/v1/auth/login", {"username": "sleepy", "password": PASSWORD}, format="json")

    failed = events("auth.login_failed")
    assert [(e.target_label, e.details["reason"], e.outcome) for e in failed] == [
        ("alice", "invalid_credentials", "failure"),
        ("ghost", "invalid_credentials", "failure"),
        ("sleepy", "inactive", "failure"),
    ]
    assert failed[0].target_user_id == user.pk and failed[1].target_user_id is None


def test_lockout_is_audited_once_then_each_refused_attempt(api_client, user, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        api_client.post(
            "/api/v1/auth/login", {"username": "alice", "password": "wrong one here"}, format="json"
        )
    locked = only("auth.locked_out")
    assert locked.target_user_id == user.pk
    response = api_client.post(
        "/api/v1/auth/login", {"username": "alice", "password": PASSWORD}, format="json"
    )
    assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert events("auth.login_failed")[-1].details["reason"] == "account_locked"
    assert len(events("auth.locked_out")) == 1


def test_token_and_session_events(api_client, user):
    tokens = login(api_client, "alice")
    refreshed = api_client.post(
        "/api/v1/auth/refresh", {"refresh_token": tokens["refresh_token"]}, format="json"
    )
    assert only("token.refreshed").actor_id == user.pk
    api_client.post("/api/v1/auth/refresh", {"refresh_token": tokens["refresh_token"]}, format="json")
    reused = only("token.reused")
    assert (
        reused.outcome == "failure" and reused.target_user_id == user.pk and reused.actor_kind == "anonymous"
    )

    fresh = login(api_client, "alice")
    client = bearer_client(fresh["access_token"])
    client.post("/api/v1/auth/logout", {}, format="json")
    logout = only("auth.logout")
    assert logout.actor_kind == "user" and logout.actor_id == user.pk and logout.details["reason"] == "logout"

    other = login(api_client, "alice")
    bearer_client(other["access_token"]).post("/api/v1/auth/logout-all")
    assert [e.details.get("scope") for e in events("auth.logout")] == [None, "all"]
    assert refreshed.status_code == HTTPStatus.OK


def test_password_and_profile_events(api_client, user, django_capture_on_commit_callbacks):
    tokens = login(api_client, "alice")
    client = bearer_client(tokens["access_token"])
    client.patch("/api/v1/auth/me", {"full_name": "Alice L"}, format="json")
    assert only("user.updated").details == {"fields": ["full_name"]}
    new = client.post(
        "/api/v1/auth/change-password",
        {"current_password": PASSWORD, "new_password": "another long passphrase"},
        format="json",
    ).json()
    changed = only("password.changed")
    assert changed.actor_id == user.pk and changed.details["sessions_revoked"] == 1

    with django_capture_on_commit_callbacks(execute=True):
        api_client.post("/api/v1/auth/password-reset", {"email": "alice@example.com"}, format="json")
        api_client.post("/api/v1/auth/password-reset", {"email": "nobody@example.com"}, format="json")
    requested = events("password.reset_requested")
    assert [(e.target_user_id, e.details["mail_sent"]) for e in requested] == [(user.pk, True), (None, False)]
    assert new["access_token"]


def test_staff_changes_are_audited_with_the_staff_actor(admin_user, user):
    from core.request import RequestMeta

    meta = RequestMeta(actor_kind="user", actor_id=admin_user.pk, actor_label=admin_user.username)
    user_set_role(user_id=user.pk, role="developer", meta=meta)
    role = only("user.role_changed")
    assert role.actor_id == admin_user.pk and role.details == {"from": "user", "to": "developer"}
    user_set_active(user_id=user.pk, is_active=False, meta=meta)
    assert only("user.deactivated").target_user_id == user.pk
    user_delete(user_id=user.pk, meta=meta)
    deleted = only("user.deleted")
    # The target is gone, its name stays readable.
    assert deleted.target_user_id is None and deleted.target_label == "alice"


def test_operator_commands_are_audited_as_operator(monkeypatch):
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    call_command("create_user", "opsy", "--email", "opsy@example.com", stdout=io.StringIO())
    created = only("user.created")
    assert created.actor_kind == "operator" and "manage.py create_user" in created.actor_label


def test_no_secret_ever_enters_the_log(api_client, user, django_capture_on_commit_callbacks):
    tokens = login(api_client, "alice")
    rotated = api_client.post(
        "/api/v1/auth/refresh", {"refresh_token": tokens["refresh_token"]}, format="json"
    ).json()
    api_client.post("/api/v1/auth/refresh", {"refresh_token": tokens["refresh_token"]}, format="json")
    api_client.post(
        "/api/v1/auth/login", {"username": "alice", "password": "typo in my passphrase"}, format="json"
    )
    fresh = login(api_client, "alice")
    bearer_client(fresh["access_token"]).post(
        "/api/v1/auth/change-password",
        {"current_password": PASSWORD, "new_password": "the brand new secret words"},
        format="json",
    )
    dump = json.dumps([{f.name: str(getattr(e, f.name)) for f in AuditEvent._meta.fields} for e in events()])
    for secret in (
        PASSWORD,
        "typo in my passphrase",
        "the brand new secret words",
        tokens["access_token"],
        tokens["refresh_token"],
        rotated["refresh_token"],
        fresh["access_token"],
    ):
        assert secret not in dump
    for part in (tokens["refresh_token"].split(".")[2], fresh["access_token"].split(".")[2]):
        assert part not in dump


def test_scrub_removes_credentials_at_any_depth():
    from audit.services import SCRUBBED, scrub

    assert scrub(
        {"password": "x", "nested": {"refresh_token": "y", "ok": 1}, "list": [{"api_key": "z"}], "key": "k"}
    ) == {
        "password": SCRUBBED,
        "nested": {"refresh_token": SCRUBBED, "ok": 1},
        "list": [{"api_key": SCRUBBED}],
        "key": SCRUBBED,
    }


def test_chain_verifies_after_a_normal_flow(api_client, user):
    login(api_client, "alice")
    login(api_client, "alice")
    report = audit_chain_verify()
    assert report.problem is None and report.checked == len(events()) >= 3
