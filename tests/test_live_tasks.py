"""Mail through the database task queue, as production runs it: gunicorn enqueues, `manage.py
db_worker --batch` sends to a real SMTP server (aiosmtpd), and a failing server is retried."""

import os
import re
import subprocess
import sys
import time
from http import HTTPStatus

import pytest
from aiosmtpd.controller import Controller
from django.db import connection
from django_tasks_db.models import DBTaskResult

from accounts.tasks import BODY_REMOVED
from accounts.tests.factories import UserFactory
from tests.conftest import ROOT, UNLIMITED, _free_port, start_gunicorn, stop_gunicorn

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


class SmtpSink:
    """An SMTP server that answers 451 (try again later) to every mail while `failing`."""

    def __init__(self) -> None:
        self.failing = False
        self.messages: list[tuple[list[str], str]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        if self.failing:
            return "451 4.3.0 Try again later"
        self.messages.append((envelope.rcpt_tos, envelope.content.decode("utf-8", "replace")))
        return "250 OK"


@pytest.fixture
def smtp_sink():
    sink = SmtpSink()
    controller = Controller(sink, hostname="127.0.0.1", port=_free_port())
    controller.start()
    yield sink, controller.port
    controller.stop()


def run_worker(env: dict) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "manage.py", "db_worker", "--batch", "--no-startup-delay"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def mail_rows() -> list[DBTaskResult]:
    return list(DBTaskResult.objects.filter(task_path="accounts.tasks.mail_send").order_by("enqueued_at"))


def test_reset_mail_waits_for_the_worker_survives_a_failing_smtp_server_and_is_sent(tmp_path, smtp_sink):
    sink, smtp_port = smtp_sink
    UserFactory(username="alice", email="alice@example.com")
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "TASKS_BACKEND": "database",
        "TEST_SMTP_PORT": str(smtp_port),
        "MAIL_RETRY_SECONDS": "1",
    }
    server = start_gunicorn(
        tmp_path, extra_env={**UNLIMITED, **{k: env[k] for k in ("TASKS_BACKEND", "TEST_SMTP_PORT")}}
    )
    try:
        response = server.post("/api/v1/auth/password-reset", {"email": "alice@example.com"})
        assert response.status_code == HTTPStatus.ACCEPTED
    finally:
        stop_gunicorn(server)

    # No worker yet: the mail waits in the queue, nothing reached the SMTP server.
    [queued] = mail_rows()
    assert queued.status == "READY" and queued.args_kwargs["kwargs"]["to"] == "alice@example.com"
    assert sink.messages == []

    # The SMTP server answers 451: the attempt fails and the next one is queued for later.
    sink.failing = True
    run_worker(env)
    rows = mail_rows()
    assert [(row.status, row.args_kwargs["kwargs"]["attempt"]) for row in rows] == [
        ("FAILED", 1),
        ("READY", 2),
    ]
    assert "SMTPDataError" in rows[0].exception_class_path
    assert rows[0].args_kwargs["kwargs"]["body"] == BODY_REMOVED
    assert sink.messages == []

    # The server works again; once the retry is due the worker sends it.
    sink.failing = False
    deadline = time.monotonic() + 10
    while not DBTaskResult.objects.ready().filter(task_path="accounts.tasks.mail_send").exists():
        assert time.monotonic() < deadline, "the retry never became due"
        time.sleep(0.2)
    run_worker(env)
    assert [(row.status, row.args_kwargs["kwargs"]["attempt"]) for row in mail_rows()] == [
        ("FAILED", 1),
        ("SUCCESSFUL", 2),
    ]
    [(recipients, content)] = sink.messages
    assert recipients == ["alice@example.com"]
    assert re.search(r"/reset-password/[^/\s]+/[^/\s]+/", content), content
