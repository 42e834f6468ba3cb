"""Middleware the JSON API does not need, skipped for /api/ paths; CORS's work skipped for
requests that are not from a browser on another origin.

Sessions, messages, Django's own user and the admin login's lockout page serve the admin and
the HTML pages. The API authenticates every request itself (DRF), keeps no session and sets
no cookie, so running them there is pure cost on the hottest paths.
"""

from axes.middleware import AxesMiddleware
from corsheaders.middleware import CorsMiddleware as CorsHeadersMiddleware
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.utils.cache import patch_vary_headers
from django_otp.middleware import OTPMiddleware

API_PREFIX = "/api/"


def _html_only(middleware_class):
    class HtmlOnly(middleware_class):
        def __call__(self, request):
            if request.path_info.startswith(API_PREFIX):
                return self.get_response(request)
            return super().__call__(request)

    HtmlOnly.__name__ = HtmlOnly.__qualname__ = f"HtmlOnly{middleware_class.__name__}"
    return HtmlOnly


HtmlOnlySessionMiddleware = _html_only(SessionMiddleware)
HtmlOnlyAuthenticationMiddleware = _html_only(AuthenticationMiddleware)
HtmlOnlyMessageMiddleware = _html_only(MessageMiddleware)
HtmlOnlyAxesMiddleware = _html_only(AxesMiddleware)
HtmlOnlyOTPMiddleware = _html_only(OTPMiddleware)


class CorsMiddleware(CorsHeadersMiddleware):
    """django-cors-headers, answering a request without an `Origin` header (a program, a
    same-origin navigation) as it does, without its per-request header parsing: such a
    request is never a CORS request, so it gets only the `Vary: origin` corsheaders adds on
    CORS paths. A request with an Origin, and any OPTIONS (a preflight), go through
    corsheaders unchanged."""

    def __call__(self, request):
        if "HTTP_ORIGIN" in request.META or request.method == "OPTIONS":
            return super().__call__(request)
        enabled = self.is_enabled(request)
        response = self.get_response(request)
        if enabled:
            patch_vary_headers(response, ("origin",))
        return response
