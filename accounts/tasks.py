"""Background work (django-tasks): run at once in local and tests, by `manage.py db_worker` in
production (TASKS_BACKEND=database), where a mail survives a restart and a failing SMTP server
is tried again."""

import logging
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.utils import timezone
from django_tasks import TaskContext, task

logger = logging.getLogger("gatehouse.accounts")

# What a task row keeps of a mail once it has been tried: never the body (a reset link).
BODY_REMOVED = "(removed once tried)"


@task(takes_context=True)
def mail_send(context: TaskContext, *, subject: str, body: str, to: str, attempt: int = 1) -> str:
    """Send one mail. On failure, where the backend can defer, enqueue the next attempt after a
    doubling delay (MAIL_RETRY_SECONDS, 2×, 4× …) up to MAIL_MAX_ATTEMPTS; this attempt fails."""
    try:
        send_mail(subject, body, None, [to])
    except Exception as exc:
        backend = context.task_result.task.get_backend()
        reason = f"{type(exc).__name__}: {str(exc)[:200]}"
        if attempt < settings.MAIL_MAX_ATTEMPTS and backend.supports_defer:
            delay = settings.MAIL_RETRY_SECONDS * 2 ** (attempt - 1)
            mail_send.using(run_after=timezone.now() + timedelta(seconds=delay)).enqueue(
                subject=subject, body=body, to=to, attempt=attempt + 1
            )
            logger.warning(
                "mail %r not sent (attempt %d of %d, %s); trying again in %d s",
                subject, attempt, settings.MAIL_MAX_ATTEMPTS, reason, delay,
            )  # fmt: skip
        else:
            logger.error("mail %r not sent, giving up at attempt %d (%s)", subject, attempt, reason)
        raise
    finally:
        _body_forget(context)
    return "sent"


@task()
def mail_skip() -> None:
    """Nothing to send: enqueued where no mail goes out (a password reset for an unknown
    address), so that request costs the same insert as one that mails."""


def _body_forget(context: TaskContext) -> None:
    """The database backend keeps a task's arguments; the body (a reset link) must not outlive
    the attempt. The next attempt, if any, is its own row."""
    from django_tasks_db import DatabaseBackend

    if not isinstance(context.task_result.task.get_backend(), DatabaseBackend):
        return
    from django_tasks_db.models import DBTaskResult

    row = DBTaskResult.objects.filter(pk=context.task_result.id).only("args_kwargs").first()
    if row is not None:
        row.args_kwargs["kwargs"]["body"] = BODY_REMOVED
        DBTaskResult.objects.filter(pk=row.pk).update(args_kwargs=row.args_kwargs)
