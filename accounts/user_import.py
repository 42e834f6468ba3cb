"""Moving users in from another system: `manage.py import_users FILE` (JSON Lines).

Every line is checked before anything is written; then all users are created in one
transaction through user_create (one audited `user.created` each), so a bad line
leaves the database as it was.
"""

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX, identify_hasher
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models.functions import Lower

from accounts.models import User, username_validator
from accounts.roles import Role
from accounts.services.users import user_create
from core.errors import ServiceError
from core.request import RequestMeta

FIELDS = frozenset({"username", "email", "full_name", "role", "password_hash"})
NAME_MAX_LENGTH = 150
EMAIL_MAX_LENGTH = 254
# What bcrypt libraries (Flask-Bcrypt, passlib, PHP's password_hash) store: $2a$, $2b$ or
# $2y$ (the same algorithm), a cost, 22 characters of salt and 31 of hash. Costs above 16
# are refused: a single login would then take minutes of CPU.
RAW_BCRYPT = re.compile(r"\$2[aby]\$(0[4-9]|1[0-6])\$[./A-Za-z0-9]{53}")
BCRYPT_HASHER = "django.contrib.auth.hashers.BCryptPasswordHasher"

NOT_AN_OBJECT = "not a JSON object"
UNKNOWN_FIELDS = "unknown field(s): %(fields)s"
MISSING = "%(field)s is required"
NOT_TEXT = "%(field)s must be a string"
TOO_LONG = "%(field)s is longer than %(max)d characters"
BAD_USERNAME = "username %(value)r is not valid (letters, digits and @ . + - _ only)"
BAD_EMAIL = "email %(value)r is not a valid address"
BAD_ROLE = "role %(value)r is not one of %(roles)s"
DUPLICATE_IN_FILE = "%(field)s %(value)r is already on line %(line)d"
TAKEN = "%(field)s %(value)r is already taken by an existing user"
BAD_HASH = (
    "password_hash is not a recognised hash (a Django hash of a configured hasher, or bcrypt $2a$/$2b$/$2y$)"
)


class ImportLineError(Exception):
    """A line that cannot be imported: its number and what is wrong with it."""

    def __init__(self, line: int, problem: str):
        self.line, self.problem = line, problem
        super().__init__(f"line {line}: {problem}")


@dataclass(frozen=True)
class ImportedUser:
    line: int
    username: str
    email: str
    full_name: str
    role: str
    password_hash: str | None  # Django format, or None: an unusable password (reset needed)


def password_hash_to_django(value: str) -> str | None:
    """The Django-format hash for a raw bcrypt hash or a Django hash of a configured hasher."""
    if RAW_BCRYPT.fullmatch(value):
        # Django's BCryptPasswordHasher stores "bcrypt$" + the library's own string.
        value = f"bcrypt${value}"
        return value if BCRYPT_HASHER in settings.PASSWORD_HASHERS else None
    if value.startswith(UNUSABLE_PASSWORD_PREFIX):
        return None
    try:
        hasher = identify_hasher(value)  # only hashers in PASSWORD_HASHERS are found
        hasher.decode(value)  # raises on a truncated or malformed hash
    except Exception:  # whatever a hasher raises for a hash it cannot read: not recognised
        return None
    if hasher.algorithm == "bcrypt" and not RAW_BCRYPT.fullmatch(value.partition("$")[2]):
        return None
    return value


def _text(record: dict, field: str, line: int, *, required: bool, max_length: int) -> str:
    value = record.get(field)
    if value is None:
        if required:
            raise ImportLineError(line, MISSING % {"field": field})
        return ""
    if not isinstance(value, str):
        raise ImportLineError(line, NOT_TEXT % {"field": field})
    value = value.strip()
    if required and not value:
        raise ImportLineError(line, MISSING % {"field": field})
    if len(value) > max_length:
        raise ImportLineError(line, TOO_LONG % {"field": field, "max": max_length})
    return value


def _parse_line(text: str, line: int) -> ImportedUser:
    try:
        record = json.loads(text)
    except (ValueError, RecursionError):
        raise ImportLineError(line, NOT_AN_OBJECT) from None
    if not isinstance(record, dict):
        raise ImportLineError(line, NOT_AN_OBJECT)
    unknown = sorted(set(record) - FIELDS)
    if unknown:
        raise ImportLineError(line, UNKNOWN_FIELDS % {"fields": ", ".join(map(repr, unknown))})
    username = _text(record, "username", line, required=True, max_length=NAME_MAX_LENGTH)
    email = _text(record, "email", line, required=True, max_length=EMAIL_MAX_LENGTH)
    full_name = _text(record, "full_name", line, required=False, max_length=NAME_MAX_LENGTH)
    role = _text(record, "role", line, required=False, max_length=20) or Role.USER
    try:
        username_validator(username)
    except DjangoValidationError:
        raise ImportLineError(line, BAD_USERNAME % {"value": username}) from None
    try:
        validate_email(email)
    except DjangoValidationError:
        raise ImportLineError(line, BAD_EMAIL % {"value": email}) from None
    if role not in Role.values:
        raise ImportLineError(line, BAD_ROLE % {"value": role, "roles": ", ".join(Role.values)})
    raw_hash = record.get("password_hash")
    password_hash = None
    if raw_hash is not None:
        # Never echo the hash: it is a secret of the user's, not the operator's to log.
        password_hash = password_hash_to_django(raw_hash) if isinstance(raw_hash, str) else None
        if password_hash is None:
            raise ImportLineError(line, BAD_HASH)
    return ImportedUser(line, username, email, full_name, role, password_hash)


def _check_unique(users: list[ImportedUser]) -> None:
    """Usernames and emails, case-insensitively: once in the file, and not yet in the database."""
    for field in ("username", "email"):
        seen: dict[str, int] = {}
        for user in users:
            value = getattr(user, field).lower()
            if value in seen:
                raise ImportLineError(
                    user.line, DUPLICATE_IN_FILE % {"field": field, "value": value, "line": seen[value]}
                )
            seen[value] = user.line
        names = list(seen)
        taken: set[str] = set()
        for start in range(0, len(names), 1000):
            chunk = names[start : start + 1000]
            taken.update(
                User.objects.alias(v=Lower(field)).filter(v__in=chunk).values_list(Lower(field), flat=True)
            )
        for user in users:
            if getattr(user, field).lower() in taken:
                raise ImportLineError(user.line, TAKEN % {"field": field, "value": getattr(user, field)})


def users_import_parse(lines: Iterable[str]) -> list[ImportedUser]:
    """Every non-blank line checked (fields, rules, uniqueness); ImportLineError at the first bad one."""
    users = [_parse_line(text, number) for number, text in enumerate(lines, start=1) if text.strip()]
    _check_unique(users)
    return users


def users_import(*, users: list[ImportedUser], meta: RequestMeta) -> dict[str, int]:
    """Create every user in one transaction through user_create; all or nothing."""
    with transaction.atomic():
        for user in users:
            try:
                user_create(
                    username=user.username,
                    email=user.email,
                    password=None,
                    full_name=user.full_name,
                    role=user.role,
                    meta=meta,
                    imported=True,
                    password_hash=user.password_hash,
                )
            except ServiceError as exc:  # e.g. a registration that raced the import
                problems = "; ".join(f"{f}: {' '.join(m)}" for f, m in (exc.errors or {}).items())
                raise ImportLineError(user.line, problems or exc.message) from None
    with_password = sum(1 for user in users if user.password_hash is not None)
    return {
        "created": len(users),
        "with_password": with_password,
        "without_password": len(users) - with_password,
    }
