"""Mail as background tasks: enqueued after commit, retried on a failing SMTP server, its body
kept no longer than needed."""

from datetime import timedelta
from http import HTTPStatus

import pytest
from django.core import mail
from django.utils import timezone
from django_tasks_db.management.commands import db_worker
from django_tasks_db.models import DBTaskResult

from accounts.mail import mail_send_later
from accounts.tasks import BODY_REMOVED
from accounts.tests.helpers import staff_login

pytestmark = pytest.mark.django_db

DATABASE_TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
FAILING_SMTP = "accounts.tests.mailbackends.TemporarilyFailingBackend"
LOCMEM = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def database_tasks(settings, monkeypatch):
    """The production backend; `run_worker()` is `db_worker --batch` inside the test transaction."""
    settings.TASKS = DATABASE_TASKS
    settings.MAIL_MAX_ATTEMPTS = 3
    settings.MAIL_RETRY_SECONDS = 30
    # The worker closes "obsolete" connections, which would end the test's transaction.
    monkeypatch.setattr(db_worker, "close_old_connections", lambda: None)

    def run_worker() -> None:
        db_worker.Worker(
            queue_names=["default"],
            interval=0,
            batch=True,
            backend_name="default",
            startup_delay=False,
            max_tasks=None,
            worker_id="test-worker",
            excluded_queue_names=[],
        ).run()

    return run_worker


def queue(status: str | None = None):
    rows = DBTaskResult.objects.filter(task_path="accounts.tasks.mail_send").order_by("enqueued_at")
    return list(rows.filter(status=status) if status else rows)


def send(django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        mail_send_later(subject="Hello", body="the secret link", to="alice@example.com")


def test_mail_waits_for_the_worker_and_is_sent_by_it(database_tasks, django_capture_on_commit_callbacks):
    send(django_capture_on_commit_callbacks)
    assert [row.status for row in queue()] == ["READY"]
    assert mail.outbox == []

    database_tasks()

    assert [m.to for m in mail.outbox] == [["alice@example.com"]]
    assert mail.outbox[0].body == "the secret link"
    [row] = queue()
    assert row.status == "SUCCESSFUL"
    assert row.args_kwargs["kwargs"]["body"] == BODY_REMOVED  # the link does not stay in the table


def test_mail_is_not_enqueued_when_the_transaction_rolls_back(
    database_tasks, django_capture_on_commit_callbacks
):
    from django.db import transaction

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        with transaction.atomic():
            mail_send_later(subject="Hello", body="the secret link", to="alice@example.com")
            raise RuntimeError("rolled back")
    assert queue() == []


def test_a_failing_smtp_server_is_retried_later_then_the_mail_is_sent(
    database_tasks, settings, django_capture_on_commit_callbacks, caplog
):
    settings.EMAIL_BACKEND = FAILING_SMTP
    send(django_capture_on_commit_callbacks)
    before = timezone.now()

    database_tasks()

    failed, waiting = queue("FAILED"), queue("READY")
    assert len(failed) == 1 and len(waiting) == 1
    assert failed[0].args_kwargs["kwargs"]["body"] == BODY_REMOVED
    assert waiting[0].args_kwargs["kwargs"]["attempt"] == 2
    assert waiting[0].run_after >= before + timedelta(seconds=30)  # MAIL_RETRY_SECONDS
    assert "attempt 1 of 3" in caplog.text and "SMTPDataError" in caplog.text

    database_tasks()  # not due yet: nothing happens
    assert len(queue("READY")) == 1

    settings.EMAIL_BACKEND = LOCMEM
    DBTaskResult.objects.filter(status="READY").update(run_after=timezone.now() - timedelta(seconds=1))
    database_tasks()

    assert [m.body for m in mail.outbox] == ["the secret link"]
    assert [row.status for row in queue()] == ["FAILED", "SUCCESSFUL"]


def test_retries_double_their_delay_and_stop_after_the_last_attempt_without_logging_the_body(
    database_tasks, settings, django_capture_on_commit_callbacks, caplog
):
    settings.EMAIL_BACKEND = FAILING_SMTP
    send(django_capture_on_commit_callbacks)
    delays = []
    for _ in range(3):
        started = timezone.now()
        database_tasks()
        waiting = queue("READY")
        if waiting:
            delays.append(round((waiting[0].run_after - started).total_seconds()))
            DBTaskResult.objects.filter(status="READY").update(
                run_after=timezone.now() - timedelta(seconds=1)
            )

    assert delays == [30, 60]
    assert [row.status for row in queue()] == ["FAILED"] * 3
    assert [row.args_kwargs["kwargs"]["attempt"] for row in queue()] == [1, 2, 3]
    assert "giving up at attempt 3" in caplog.text
    assert "the secret link" not in caplog.text
    assert all(row.args_kwargs["kwargs"]["body"] == BODY_REMOVED for row in queue())
    assert "the secret link" not in "".join(row.traceback for row in queue())


def test_a_failing_smtp_server_with_immediate_tasks_is_logged_and_the_request_still_succeeds(
    api_client, user, settings, django_capture_on_commit_callbacks, caplog
):
    settings.EMAIL_BACKEND = FAILING_SMTP
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(
            "/api/v1/auth/password-reset", {"email": "alice@example.com"}, format="json"
        )
    assert response.status_code == HTTPStatus.ACCEPTED
    assert "giving up at attempt 1" in caplog.text  # the immediate backend cannot defer a retry


def test_the_admin_shows_a_queued_mail_task_without_its_body(
    client, admin_user, database_tasks, django_capture_on_commit_callbacks
):
    send(django_capture_on_commit_callbacks)
    [row] = queue()
    staff_login(client, admin_user)
    listing = client.get("/admin/django_tasks_database/dbtaskresult/")
    page = client.get(f"/admin/django_tasks_database/dbtaskresult/{row.pk}/change/")
    assert listing.status_code == page.status_code == HTTPStatus.OK
    assert "mail_send" in listing.content.decode()
    assert "the secret link" not in page.content.decode()
    assert "READY" in page.content.decode() or "Ready" in page.content.decode()
