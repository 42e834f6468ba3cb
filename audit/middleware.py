"""Request ids: taken from a sane X-Request-ID or made here, echoed back, stamped on logs and events."""

import contextvars
import logging
import re
import secrets

_REQUEST_ID_SHAPE = re.compile(r"^[A-Za-z0-9._:-]{8,64}\Z")
current_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        supplied = request.META.get("HTTP_X_REQUEST_ID", "")
        request_id = supplied if _REQUEST_ID_SHAPE.match(supplied) else secrets.token_hex(16)
        request.request_id = request_id
        token = current_request_id.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            current_request_id.reset(token)
        response["X-Request-ID"] = request_id
        return response


class RequestIdLogFilter(logging.Filter):
    """Adds %(request_id)s to every log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id.get()
        return True
