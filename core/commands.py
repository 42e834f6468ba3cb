"""Output helpers shared by every app's operator commands."""

from core.errors import ServiceError


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
