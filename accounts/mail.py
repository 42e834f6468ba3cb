"""Outgoing mail, as background tasks (accounts.tasks) enqueued once the transaction commits."""

from django.db import transaction

from accounts.tasks import mail_send, mail_skip


def mail_send_later(*, subject: str, body: str, to: str) -> None:
    """Send after commit through the task queue: with the database backend the request only
    inserts a row, so an SMTP round trip never tells a client whether an address has an
    account, and a failing SMTP server is retried by the worker."""
    transaction.on_commit(
        lambda: mail_send.enqueue(subject=subject, body=body, to=to, attempt=1), robust=True
    )


def mail_skip_later() -> None:
    """Where a request could have mailed and does not: the same one insert after commit."""
    transaction.on_commit(mail_skip.enqueue, robust=True)
