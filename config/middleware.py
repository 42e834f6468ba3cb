"""Middleware the JSON API does not need, skipped for /api/ paths.

Sessions, messages, Django's own user and the admin login's lockout page serve the admin and
the HTML pages. The API authenticates every request itself (DRF), keeps no session and sets
no cookie, so running them there is pure cost on the hottest paths.
"""

from axes.middleware import AxesMiddleware
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
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
