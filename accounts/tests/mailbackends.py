"""Email backends for tests: an SMTP server that keeps answering "try again later"."""

import smtplib

from django.core.mail.backends.base import BaseEmailBackend


class TemporarilyFailingBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        raise smtplib.SMTPDataError(451, b"4.3.0 Try again later")
