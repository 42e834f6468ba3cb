"""Tamper evidence, pruning, export, the admin and the admin API for the audit trail."""

import io
import json
from datetime import timedelta
from http import HTTPStatus

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from accounts.tests.factories import UserFactory
from accounts.tests.helpers import bearer_client, login, staff_login
from audit.models import AuditEvent, Event
from audit.services import audit_record
from core.request import RequestMeta

pytestmark = pytest.mark.django_db
META = RequestMeta(ip_address="198.51.100.7", user_agent="pytest", request_id="req-00000001")


def write(n: int) -> list[AuditEvent]:
    return [
        audit_record(event=Event.LOGIN_FAILED, meta=META, target_label=f"u{i}", outcome="failure")
        for i in range(n)
    ]


def verify() -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("audit_verify", stdout=out)
    except CommandError as exc:
        return 1, str(exc)
    return 0, out.getvalue()


def test_verify_passes_on_an_untouched_log():
    write(5)
    code, output = verify()
    assert code == 0 and "5 events verified" in output


def test_editing_a_row_breaks_verification_at_that_event():
    rows = write(5)
    AuditEvent.objects.filter(pk=rows[2].pk).update(target_label="someone-else")
    code, message = verify()
    assert code == 1
    assert f"event #{rows[2].seq}: content was changed" in message


def test_editing_details_or_outcome_breaks_it_too():
    rows = write(3)
    AuditEvent.objects.filter(pk=rows[0].pk).update(details={"reason": "benign"})
    assert verify() == (
        1,
        f"audit log is broken at chain {rows[0].chain} event #{rows[0].seq}: content was changed "
        "(0 events verified before it)",
    )


def test_deleting_a_middle_row_breaks_verification():
    rows = write(5)
    AuditEvent.objects.filter(pk=rows[1].pk).delete()
    code, message = verify()
    assert code == 1 and f"#{rows[1].seq}: missing" in message


def test_deleting_the_newest_row_breaks_verification():
    rows = write(3)
    AuditEvent.objects.filter(pk=rows[-1].pk).delete()
    code, message = verify()
    assert code == 1 and "missing at the end" in message


def test_prune_keeps_the_rest_verifiable():
    old = write(4)
    AuditEvent.objects.filter(pk__in=[r.pk for r in old]).update(
        timestamp=timezone.now() - timedelta(days=100)
    )
    # Old timestamps changed the hashes of those rows; re-chain them as if written then.
    _rechain_as_written()
    write(3)
    out = io.StringIO()
    call_command("audit_prune", "--older-than-days", "30", stdout=out)
    assert "deleted 4 events" in out.getvalue()
    assert AuditEvent.objects.count() == 4  # 3 kept + the audit.pruned event
    assert AuditEvent.objects.filter(event="audit.pruned").get().actor_kind == "operator"
    code, output = verify()
    assert code == 0, output


def _rechain_as_written() -> None:
    """Recompute every hash in order (what the writer would have stored at those times)."""
    from audit.models import AuditChainHead
    from audit.services import event_hash, hashed_fields

    for chain in set(AuditEvent.objects.values_list("chain", flat=True)):
        prev = "0" * 64
        for row in AuditEvent.objects.filter(chain=chain).order_by("seq"):
            row.prev_hash = prev
            row.hash = event_hash(
                prev_hash=prev,
                chain=chain,
                seq=row.seq,
                timestamp=row.timestamp,
                fields=hashed_fields(row),
                version=row.hash_version,
            )
            AuditEvent.objects.filter(pk=row.pk).update(prev_hash=row.prev_hash, hash=row.hash)
            prev = row.hash
        AuditChainHead.objects.filter(pk=chain).update(last_hash=prev)


def test_prune_rejects_a_bad_age():
    with pytest.raises(CommandError, match="at least 1"):
        call_command("audit_prune", "--older-than-days", "0")


def test_export_json_lines_with_time_window(tmp_path):
    write(3)
    path = tmp_path / "audit.jsonl"
    out = io.StringIO()
    call_command("audit_export", "--output", str(path), "--since", "2000-01-01T00:00:00Z", stdout=out)
    lines = path.read_text().splitlines()
    assert len(lines) == 3 and "wrote 3 events" in out.getvalue()
    first = json.loads(lines[0])
    assert set(first) == {
        "id",
        "timestamp",
        "event",
        "outcome",
        "actor",
        "target_user",
        "ip_address",
        "user_agent",
        "request_id",
        "details",
    }
    assert first["request_id"] == "req-00000001"
    call_command(
        "audit_export", "--output", str(path), "--until", "2000-01-01T00:00:00Z", stdout=io.StringIO()
    )
    assert path.read_text() == ""
    with pytest.raises(CommandError, match="--since must be an ISO 8601 time"):
        call_command("audit_export", "--since", "yesterday")


# --- Request ids ---------------------------------------------------------------------


def test_request_id_is_echoed_or_made(api_client):
    given = api_client.get("/api/v1/", HTTP_X_REQUEST_ID="client-chosen-id-1")
    assert given["X-Request-ID"] == "client-chosen-id-1"
    made = api_client.get("/api/v1/", HTTP_X_REQUEST_ID="bad id with spaces\n")
    assert made["X-Request-ID"] != "bad id with spaces\n" and len(made["X-Request-ID"]) == 32


# --- Admin API -------------------------------------------------------------------------


@pytest.fixture
def admin_client(api_client, admin_user):
    return bearer_client(login(api_client, admin_user.username)["access_token"])


def test_admin_api_lists_newest_first_with_cursor(admin_client):
    write(7)
    first = admin_client.get("/api/v1/admin/audit-logs?limit=3&event=auth.login_failed")
    assert first.status_code == HTTPStatus.OK
    page = first.json()
    labels = [e["target_user"]["label"] for e in page["results"]]
    assert labels == ["u6", "u5", "u4"]
    assert page["results"][0]["actor"] == {"id": None, "kind": "system", "label": ""}
    second = admin_client.get(
        f"/api/v1/admin/audit-logs?limit=3&event=auth.login_failed&cursor={page['next']}"
    ).json()
    assert [e["target_user"]["label"] for e in second["results"]] == ["u3", "u2", "u1"]
    third = admin_client.get(
        f"/api/v1/admin/audit-logs?limit=3&event=auth.login_failed&cursor={second['next']}"
    ).json()
    assert [e["target_user"]["label"] for e in third["results"]] == ["u0"] and third["next"] is None


def test_admin_api_filters_by_user_and_time(admin_client, user):
    login(admin_client, "alice")
    by_name = admin_client.get("/api/v1/admin/audit-logs?user=alice").json()["results"]
    assert by_name and all("alice" in (e["actor"]["label"], e["target_user"]["label"]) for e in by_name)
    by_id = admin_client.get(f"/api/v1/admin/audit-logs?user={user.pk}").json()["results"]
    assert [e["id"] for e in by_id] == [e["id"] for e in by_name]
    future = admin_client.get("/api/v1/admin/audit-logs?since=2999-01-01T00:00:00Z").json()
    assert future == {"results": [], "next": None}


def test_admin_api_user_filter_odd_digits_are_no_match_not_an_error(admin_client):
    for value in ("%C2%B2", "9" * 40, "%D9%A3"):  # superscript two, 40 nines, Arabic-Indic three
        response = admin_client.get(f"/api/v1/admin/audit-logs?user={value}")
        assert response.status_code == HTTPStatus.OK
        assert response.json()["results"] == []


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=500", "event=nope", "since=yesterday", "cursor=!!!", "cursor=czEyYWI"]
)
def test_admin_api_bad_queries_are_400(admin_client, query):
    response = admin_client.get(f"/api/v1/admin/audit-logs?{query}")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["code"] == "validation_error"


@pytest.mark.parametrize("role", ["developer", "user", "guest", "service_account"])
def test_admin_api_is_forbidden_to_other_roles(api_client, role):
    UserFactory(username=f"r-{role}", email=f"{role}@example.com", role=role)
    client = bearer_client(login(api_client, f"r-{role}")["access_token"])
    response = client.get("/api/v1/admin/audit-logs")
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert response.json()["code"] == "permission_denied"


# --- Django admin ------------------------------------------------------------------------


@pytest.fixture
def staff_client(client, admin_user):
    staff_login(client, admin_user)
    return client


def test_admin_changelist_search_and_filters(staff_client, user):
    write(3)
    audit_record(event=Event.LOGIN_SUCCEEDED, meta=META, actor=user, target=user)
    page = staff_client.get("/admin/audit/auditevent/")
    assert page.status_code == HTTPStatus.OK
    assert b"auth.login_failed" in page.content
    found = staff_client.get("/admin/audit/auditevent/?q=alice")
    assert found.status_code == HTTPStatus.OK
    assert sorted(e.event for e in found.context["cl"].result_list) == [
        "auth.login_succeeded",
        "user.created",
    ]
    by_ip = staff_client.get("/admin/audit/auditevent/?q=198.51.100.7")
    assert by_ip.context["cl"].result_count == 4
    filtered = staff_client.get(
        "/admin/audit/auditevent/?event__exact=auth.login_succeeded&outcome__exact=success"
    )
    assert filtered.context["cl"].result_count == 1


def test_admin_is_read_only(staff_client):
    row = write(1)[0]
    assert staff_client.get("/admin/audit/auditevent/add/").status_code == HTTPStatus.FORBIDDEN
    detail = staff_client.get(f"/admin/audit/auditevent/{row.pk}/change/")
    assert detail.status_code == HTTPStatus.OK and b'name="_save"' not in detail.content
    assert (
        staff_client.post(f"/admin/audit/auditevent/{row.pk}/delete/", {"post": "yes"}).status_code
        == HTTPStatus.FORBIDDEN
    )
    assert AuditEvent.objects.filter(pk=row.pk).exists()


def test_deleting_a_user_keeps_the_chain_verifiable(api_client, admin_user, user):
    from accounts.services.users import user_delete

    login(api_client, "alice")
    user_delete(
        user_id=user.pk, meta=RequestMeta(actor_kind="user", actor_id=admin_user.pk, actor_label="root")
    )
    code, output = verify()
    assert code == 0, output
    events = AuditEvent.objects.filter(target_label="alice")
    assert events.exists() and all(e.target_user_id is None and e.target_ref == user.pk for e in events)
