"""Shared bits of the accounts operator commands (output helpers are in core.commands)."""

import getpass
import sys

from django.core.management.base import CommandError

from accounts.models import User
from accounts.selectors import user_by_identifier


def user_named(username: str) -> User:
    user = user_by_identifier(username) if "@" not in username else None
    if user is None:
        raise CommandError(f"no user named {username!r}")
    return user


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
