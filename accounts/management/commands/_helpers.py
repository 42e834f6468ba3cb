"""Shared bits of the operator commands."""

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
