"""Domain errors that services raise. config.exception_handler renders them."""

from http import HTTPStatus

VALIDATION_FAILED = "The request is not valid."
NOT_FOUND = "Not found."
SERVER_ERROR = "Something went wrong on our side. It has been logged."
SERVICE_UNAVAILABLE = "A service Gatehouse depends on is unavailable. Try again shortly."
RATE_LIMITED = "Too many requests. Try again later."
BODY_TOO_LARGE = "The request body is too large."


class ServiceError(Exception):
    """A rule refused the request. Subclasses set the HTTP status, stable code and message."""

    status: int = HTTPStatus.BAD_REQUEST
    code: str = "validation_error"
    message: str = VALIDATION_FAILED

    def __init__(
        self,
        message: str | None = None,
        *,
        errors: dict[str, list[str]] | None = None,
        retry_after: int | None = None,
    ):
        self.message = message or self.message
        self.errors = errors
        self.retry_after = retry_after
        super().__init__(self.message)


class NotFound(ServiceError):
    status = HTTPStatus.NOT_FOUND
    code = "not_found"
    message = NOT_FOUND


class Forbidden(ServiceError):
    status = HTTPStatus.FORBIDDEN
    code = "permission_denied"
    message = "You do not have permission to perform this action."


class Conflict(ServiceError):
    status = HTTPStatus.CONFLICT
    code = "conflict"


class RateLimited(ServiceError):
    status = HTTPStatus.TOO_MANY_REQUESTS
    code = "rate_limited"
    message = RATE_LIMITED


class ServiceUnavailable(ServiceError):
    status = HTTPStatus.SERVICE_UNAVAILABLE
    code = "service_unavailable"
    message = SERVICE_UNAVAILABLE
