"""Log formats: `plain` for people at a terminal, `json` (one object a line) for log shippers."""

import logging
from datetime import UTC, datetime

from pythonjsonlogger.core import RESERVED_ATTRS, merge_record_extra
from pythonjsonlogger.json import JsonFormatter


class GatehouseJsonFormatter(JsonFormatter):
    """`timestamp` (UTC, ISO 8601), `level`, `logger`, `message`, `request_id`, then any extras
    the call passed (the request line's `method`, `route`, `status`, `duration_ms`, `user_id`)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("reserved_attrs", [*RESERVED_ATTRS, "request_id"])
        super().__init__(*args, **kwargs)

    def add_fields(self, log_data: dict, record: logging.LogRecord, message_dict: dict) -> None:
        # The fixed fields directly (this runs once per request: the generic path costs more).
        log_data["timestamp"] = datetime.fromtimestamp(record.created, tz=UTC).isoformat()
        log_data["level"] = record.levelname
        log_data["logger"] = record.name
        log_data["message"] = record.message
        log_data["request_id"] = getattr(record, "request_id", "-")
        log_data.update(message_dict)
        merge_record_extra(record, log_data, reserved=self._skip_fields)


def logging_settings(*, log_format: str, level: str) -> dict:
    """Django's LOGGING for `log_format` `plain` or `json`; every line carries the request id."""
    if log_format not in {"plain", "json"}:
        raise SystemExit(f"error: LOG_FORMAT must be plain or json, not {log_format!r}")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": "audit.middleware.RequestIdLogFilter"}},
        "formatters": {
            "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
            "json": {"()": "config.observability.logformat.GatehouseJsonFormatter"},
        },
        "handlers": {
            "console": {"class": "logging.StreamHandler", "formatter": log_format, "filters": ["request_id"]}
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "axes": {"level": "WARNING"},
            "django.request": {"level": "ERROR"},
        },
    }
