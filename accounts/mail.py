"""Outgoing mail, as background tasks (accounts.tasks) enqueued once the transaction commits."""

from django.conf import settings
from django.db import transaction
from django.urls import reverse

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


def password_reset_link(uidb64: str, token: str) -> str:
    """The reset page's address on PUBLIC_BASE_URL: never from the request's Host header, which
    a client chooses (and could point a victim's link at its own server)."""
    path = reverse("password-reset-page", kwargs={"uidb64": uidb64, "token": token})
    return f"{settings.PUBLIC_BASE_URL}{path}"


def email_verification_link(uidb64: str, token: str) -> str:
    """The verification page's address on PUBLIC_BASE_URL (see password_reset_link)."""
    path = reverse("verify-email-page", kwargs={"uidb64": uidb64, "token": token})
    return f"{settings.PUBLIC_BASE_URL}{path}"
