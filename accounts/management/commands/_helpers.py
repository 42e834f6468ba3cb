"""Shared bits of the operator commands."""

import getpass
import sys

from django.core.management.base import CommandError

from accounts.models import User
from accounts.services import user_by_identifier
from config.errors import ServiceError


def user_named(username: str) -> User:
    user = user_by_identifier(username) if "@" not in username else None
    if user is None:
        raise CommandError(f"no user named {username!r}")
    return user


def service_error_line(exc: ServiceError) -> str:
    """One line for an operator: each field's problems, else the message."""
    parts = [f"{field}: {' '.join(messages)}" for field, messages in (exc.errors or {}).items()]
    return "; ".join(parts) or exc.message


def table(rows: list[tuple]) -> list[str]:
    """Rows as aligned text lines (the first row is the header)."""
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def password_from_operator(*, from_stdin: bool) -> str | None:
    """The password from standard input, or asked twice on a terminal; None with neither."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\n")
        if not password:
            raise CommandError("no password on standard input")
        return password
    if not sys.stdin.isatty():
        return None
    password = getpass.getpass("Password: ")
    if password != getpass.getpass("Password (again): "):
        raise CommandError("the passwords do not match")
    return password
