"""Outgoing mail, sent off the request thread."""

import logging
import threading

from django.conf import settings
from django.core.mail import send_mail

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
