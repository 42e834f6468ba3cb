"""Log formats: `plain` for people at a terminal, `json` (one object a line) for log shippers."""

import json
import logging
from datetime import UTC, datetime
from json.encoder import encode_basestring_ascii

from pythonjsonlogger.core import RESERVED_ATTRS, merge_record_extra
from pythonjsonlogger.json import JsonEncoder, JsonFormatter

from audit.middleware import RequestIdLogFilter


class GatehouseJsonFormatter(JsonFormatter):
    """`timestamp` (UTC, ISO 8601), `level`, `logger`, `message`, `request_id`, then any extras
    the call passed (the request line's `method`, `route`, `status`, `duration_ms`, `user_id`)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("reserved_attrs", [*RESERVED_ATTRS, "request_id"])
        super().__init__(*args, **kwargs)
        # Configured as shipped (no prefix, no asctime, the standard encoder, one line, ASCII):
        # then `request_line` writes exactly what this formatter writes for a request record.
        self.writes_request_lines = (
            not self.prefix
            and "asctime" not in self._required_fields
            and self.json_serializer is json.dumps
            and self.json_encoder is JsonEncoder
            and self.json_indent is None
            and self.json_ensure_ascii
        )

    def add_fields(self, log_data: dict, record: logging.LogRecord, message_dict: dict) -> None:
        # The fixed fields directly (this runs once per request: the generic path costs more).
        log_data["timestamp"] = datetime.fromtimestamp(record.created, tz=UTC).isoformat()
        log_data["level"] = record.levelname
        log_data["logger"] = record.name
        log_data["message"] = record.message
        log_data["request_id"] = getattr(record, "request_id", "-")
        log_data.update(message_dict)
        merge_record_extra(record, log_data, reserved=self._skip_fields)


class ConsoleHandler(logging.StreamHandler):
    """The console handler (standard error), which can also take a line already formatted."""

    def emit_line(self, line: str) -> bool:
        """Write `line` as `emit` writes a formatted record; False if writing failed (the caller
        then logs the record the standard way, whose errors logging reports)."""
        with self.lock:  # type: ignore[union-attr]
            try:
                self.stream.write(line + self.terminator)
                self.flush()
            except RecursionError:
                raise
            except Exception:
                return False
        return True


def request_line_handler(logger: logging.Logger) -> ConsoleHandler | None:
    """The console handler when it is the only handler an INFO record of `logger` reaches, as
    production ships it (JSON, the request-id filter, nothing else on the way); None otherwise
    (another handler, a filter, the plain format), and the record goes the standard way."""
    if logger.filters or logger.disabled:
        return None
    found = None
    current: logging.Logger | None = logger
    while current is not None:
        for handler in current.handlers:
            if found is not None or type(handler) is not ConsoleHandler or handler.level > logging.INFO:
                return None
            formatter, filters = handler.formatter, handler.filters
            if type(formatter) is not GatehouseJsonFormatter or not formatter.writes_request_lines:
                return None
            if len(filters) != 1 or type(filters[0]) is not RequestIdLogFilter:
                return None
            found = handler
        current = current.parent if current.propagate else None
    return found


def request_line(
    *,
    created: float,
    logger: str,
    request_id: str,
    method: str,
    route: str,
    status: int,
    duration_ms: float,
    user_id: int | None,
) -> str:
    """The request's log line at INFO, exactly as GatehouseJsonFormatter formats the record
    (tests compare the two): without a LogRecord, a handler chain and a generic JSON encoder,
    which together cost more than the rest of a bare request's middleware."""
    timestamp = datetime.fromtimestamp(created, tz=UTC).isoformat()
    return (
        f'{{"timestamp": "{timestamp}", "level": "INFO", "logger": {encode_basestring_ascii(logger)},'
        f' "message": {encode_basestring_ascii(f"{method} {route} {status}")},'
        f' "request_id": {encode_basestring_ascii(request_id)}, "method": {encode_basestring_ascii(method)},'
        f' "route": {encode_basestring_ascii(route)}, "status": {int(status)!r},'
        f' "duration_ms": {float(duration_ms)!r}, "user_id": {"null" if user_id is None else repr(int(user_id))}}}'
    )


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
            "console": {
                "class": "config.observability.logformat.ConsoleHandler",
                "formatter": log_format,
                "filters": ["request_id"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "axes": {"level": "WARNING"},
            "django.request": {"level": "ERROR"},
        },
    }
