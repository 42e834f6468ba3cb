"""One timing per request: the duration histogram and the request log line.

Both name the route by its URL template (`/api/v1/auth/sessions/<session_id>`), never by the
raw path, which can carry a secret (a password-reset link) and has no bounded set of values.
"""

import logging
import re
import time
from functools import lru_cache

from django.utils.functional import SimpleLazyObject, empty

from audit.middleware import current_request_id
from config.observability.logformat import request_line, request_line_handler
from core.metrics import REQUEST_DURATION

request_logger = logging.getLogger("gatehouse.request")

UNMATCHED = "<unmatched>"
_KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_CONVERTER = re.compile(r"<(?:\w+:)?(\w+)>")


def _regex_groups_as_names(route: str) -> str:
    """`(?P<name>...)` groups as `<name>`, any other group dropped to its text, brackets kept."""
    out, i = [], 0
    while i < len(route):
        if route.startswith("(?P<", i):
            end_name = route.index(">", i)
            out.append(f"<{route[i + 4 : end_name]}>")
            depth, j, in_class = 1, end_name + 1, False
            while j < len(route) and depth:
                char = route[j]
                if char == "\\":
                    j += 1
                elif in_class:
                    in_class = char != "]"
                elif char == "[":
                    in_class = True
                elif char == "(":
                    depth += 1
                elif char == ")":
                    depth -= 1
                j += 1
            i = j
        else:
            out.append(route[i])
            i += 1
    return "".join(out)


@lru_cache(maxsize=1024)
def route_template(route: str) -> str:
    """Django's `resolver_match.route` (path() or regex) as a readable template."""
    anchored = route.endswith(("$", r"\Z"))
    text = route.removeprefix("^").removesuffix(r"\Z").removesuffix("$").removesuffix("/?")
    text = _CONVERTER.sub(r"<\1>", _regex_groups_as_names(text))
    if not anchored and (route.startswith("^") or "(?" in route):
        text += "*"  # a regex prefix: everything below it
    return "/" + text


def _status_class(status: int) -> str:
    return f"{status // 100}xx"


def _user_id(request) -> int | None:
    """The authenticated user's id, without loading a user nobody asked for."""
    user = getattr(request, "user", None)
    if user is None:
        return None
    if isinstance(user, SimpleLazyObject) and user._wrapped is empty:
        return None
    if not getattr(user, "is_authenticated", False):
        return None
    return user.pk


class RequestObservabilityMiddleware:
    """Times each request into the histogram and writes one `gatehouse.request` log line."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        elapsed = time.perf_counter() - started
        match = request.resolver_match
        route = route_template(match.route) if match is not None else UNMATCHED
        method = request.method if request.method in _KNOWN_METHODS else "OTHER"
        status = response.status_code
        REQUEST_DURATION.labels(route, method, _status_class(status)).observe(elapsed)
        level = logging.ERROR if status >= 500 else logging.INFO
        if request_logger.isEnabledFor(level):
            _log_request(request, level, method, route, status, round(elapsed * 1000, 2))
        return response


def _log_request(request, level: int, method: str, route: str, status: int, duration_ms: float) -> None:
    """The request's line on `gatehouse.request`: written straight to the console when that is
    where it goes as shipped (config.observability.logformat.request_line, the same text),
    else as a record through logging (another handler, a filter, the plain format, an error)."""
    user_id = _user_id(request)
    if level == logging.INFO and (user_id is None or type(user_id) is int):
        console = request_line_handler(request_logger)
        if console is not None and console.emit_line(
            request_line(
                created=time.time(),
                logger=request_logger.name,
                request_id=current_request_id.get(),
                method=method,
                route=route,
                status=status,
                duration_ms=duration_ms,
                user_id=user_id,
            )
        ):
            return
    request_logger.handle(request_record(level, method, route, status, duration_ms, user_id))


def request_record(
    level: int, method: str, route: str, status: int, duration_ms: float, user_id: int | None
) -> logging.LogRecord:
    """The request line as a log record. Made directly: Logger.log would also walk the stack
    for a caller's file and line, which this line does not print."""
    return request_logger.makeRecord(
        request_logger.name,
        level,
        __file__,
        0,
        "%s %s %s",
        (method, route, status),
        None,
        extra={
            "method": method,
            "route": route,
            "status": status,
            "duration_ms": duration_ms,
            "user_id": user_id,
        },
    )
