"""The one place that renders every API error in the contract's shape."""

import logging
from http import HTTPStatus

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from django.views import defaults
from rest_framework import exceptions as drf
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.errors import (
    BODY_TOO_LARGE,
    NOT_FOUND,
    RATE_LIMITED,
    SERVER_ERROR,
    SERVICE_UNAVAILABLE,
    VALIDATION_FAILED,
    Forbidden,
    ServiceError,
    ServiceUnavailable,
)

logger = logging.getLogger("gatehouse.errors")

# DRF's own codes renamed to the contract's.
_CODE_ALIASES = {
    "authentication_failed": "invalid_credentials",
    "throttled": "rate_limited",
    "invalid": "validation_error",
}


def error_body(detail: str, code: str, errors: dict | None = None) -> dict:
    body = {"detail": str(detail), "code": code}
    if errors:
        body["errors"] = errors
    return body


def _field_errors(detail) -> dict[str, list[str]]:
    """DRF validation detail as {"field": ["message", ...]}; non-field errors under "non_field_errors"."""
    if isinstance(detail, dict):
        out = {}
        for field, value in detail.items():
            if isinstance(value, dict):
                for sub, messages in _field_errors(value).items():
                    out[f"{field}.{sub}"] = messages
            elif isinstance(value, list):
                flat = []
                for item in value:
                    if isinstance(item, dict):
                        for sub, messages in _field_errors(item).items():
                            out[f"{field}.{sub}"] = messages
                    else:
                        flat.append(str(item))
                if flat:
                    out[str(field)] = flat
            else:
                out[str(field)] = [str(value)]
        return out
    if isinstance(detail, list):
        return {"non_field_errors": [str(item) for item in detail]}
    return {"non_field_errors": [str(detail)]}


def _response(status: int, body: dict, retry_after: int | None = None, headers=None) -> Response:
    response = Response(body, status=status, headers=headers)
    if retry_after is not None:
        response["Retry-After"] = str(max(1, int(retry_after)))
    return response


def api_exception_handler(exc, context):
    """DRF EXCEPTION_HANDLER: every error as {"detail", "code", "errors"?}."""
    if isinstance(exc, ServiceError):
        return _response(exc.status, error_body(exc.message, exc.code, exc.errors), exc.retry_after)
    if isinstance(exc, Http404):
        exc = drf.NotFound(NOT_FOUND)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf.PermissionDenied()
    if isinstance(exc, (OperationalError, InterfaceError)):
        logger.error("database unavailable: %s", exc)
        return _response(
            HTTPStatus.SERVICE_UNAVAILABLE, error_body(SERVICE_UNAVAILABLE, ServiceUnavailable.code), 5
        )
    if isinstance(exc, DatabaseError):
        return None  # a bug, not a client error: let the 500 handler log it
    if isinstance(exc, drf.ValidationError):
        errors = _field_errors(exc.detail)
        code = _validation_code(exc)
        return _response(HTTPStatus.BAD_REQUEST, error_body(VALIDATION_FAILED, code, errors))

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    detail = exc.detail if isinstance(exc, drf.APIException) else response.data
    code = exc.get_codes() if isinstance(exc, drf.APIException) else "error"
    if not isinstance(code, str):
        code = "error"
    code = _CODE_ALIASES.get(code, code)
    message = detail if isinstance(detail, str) else VALIDATION_FAILED
    retry_after = None
    if isinstance(exc, drf.Throttled):
        message, retry_after = RATE_LIMITED, exc.wait
    response.data = error_body(message, code)
    if retry_after is not None:
        response["Retry-After"] = str(max(1, int(retry_after)))
    return response


def _validation_code(exc: drf.ValidationError) -> str:
    """`password_invalid` when only password rules failed, else `validation_error`."""
    codes = exc.get_codes()
    if isinstance(codes, dict) and codes and set(codes) <= {"password", "new_password"}:
        return "password_invalid"
    return "validation_error"


def json_error_response(status: int, detail: str, code: str) -> JsonResponse:
    return JsonResponse(error_body(detail, code), status=status)


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def handler404(request, exception=None):
    if _is_api(request):
        return json_error_response(HTTPStatus.NOT_FOUND, NOT_FOUND, "not_found")
    return defaults.page_not_found(request, exception)


def handler500(request):
    if _is_api(request):
        return json_error_response(HTTPStatus.INTERNAL_SERVER_ERROR, SERVER_ERROR, "server_error")
    return defaults.server_error(request)


def handler400(request, exception=None):
    if _is_api(request):
        return json_error_response(HTTPStatus.BAD_REQUEST, "Bad request.", "bad_request")
    return defaults.bad_request(request, exception)


def handler403(request, exception=None):
    if _is_api(request):
        return json_error_response(HTTPStatus.FORBIDDEN, Forbidden.message, "permission_denied")
    return defaults.permission_denied(request, exception)


class ApiErrorMiddleware:
    """Under /api/, an exception that escaped DRF still answers in the contract's JSON shape."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # NUL cannot reach PostgreSQL in a query parameter or path (an admin filter would 500).
        if "\x00" in request.path or "%00" in request.META.get("QUERY_STRING", ""):
            if _is_api(request):
                return json_error_response(HTTPStatus.BAD_REQUEST, "Bad request.", "bad_request")
            return defaults.bad_request(request, SuspiciousOperation("NUL byte in the request"))
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not _is_api(request):
            return None
        if isinstance(exception, RequestDataTooBig):
            return json_error_response(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE, BODY_TOO_LARGE, "request_too_large"
            )
        if isinstance(exception, (OperationalError, InterfaceError)):
            logger.error("database unavailable: %s", exception)
            return json_error_response(
                HTTPStatus.SERVICE_UNAVAILABLE, SERVICE_UNAVAILABLE, "service_unavailable"
            )
        if isinstance(exception, Http404):
            return json_error_response(HTTPStatus.NOT_FOUND, NOT_FOUND, "not_found")
        if isinstance(exception, SuspiciousOperation):
            return json_error_response(HTTPStatus.BAD_REQUEST, "Bad request.", "bad_request")
        logger.exception("unhandled error on %s %s", request.method, request.path)
        return json_error_response(HTTPStatus.INTERNAL_SERVER_ERROR, SERVER_ERROR, "server_error")
