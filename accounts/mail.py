"""Outgoing mail, sent off the request thread."""

import logging
import threading

from django.conf import settings
from django.core.mail import send_mail
from django.urls import reverse

logger = logging.getLogger("gatehouse.accounts")


def mail_send_later(*, subject: str, body: str, to: str) -> None:
    """Send off the request thread (EMAIL_SEND_ASYNC), so an SMTP round trip never tells a
    client whether the address it gave has an account."""

    def send() -> None:
        try:
            send_mail(subject, body, None, [to])
        except Exception:
            logger.exception("could not send mail %r", subject)

    if settings.EMAIL_SEND_ASYNC:
        threading.Thread(target=send, name="gatehouse-mail", daemon=True).start()
    else:
        send()


def password_reset_link(uidb64: str, token: str) -> str:
    """The reset page's address on PUBLIC_BASE_URL: never from the request's Host header, which
    a client chooses (and could point a victim's link at its own server)."""
    path = reverse("password-reset-page", kwargs={"uidb64": uidb64, "token": token})
    return f"{settings.PUBLIC_BASE_URL}{path}"
