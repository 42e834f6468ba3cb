"""Checks for ids that arrive as text (token claims, URL parts, query parameters)."""

import uuid


def is_id(value: str) -> bool:
    """A database id as text: ASCII digits only ("²".isdigit() is True), at most 18 of them."""
    return value.isascii() and value.isdigit() and len(value) <= 18


def is_uuid(value: str) -> bool:
    """A UUID in any form uuid.UUID accepts (session ids)."""
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
