from django.contrib import admin
from django.contrib.auth.models import Group
from django.urls import include, path, re_path
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from accounts.api import discovery
from accounts.pages import (
    ResetPasswordDoneView,
    ResetPasswordPageView,
    StaffPasswordChangeView,
    VerifyEmailPageView,
)
from config import exception_handler
from config.observability.views import LivenessView, metrics_view
from config.views import HealthView, ServiceInfoView
from core.routing import route


@csrf_exempt  # a POST to an unknown API path is a JSON 404, not the CSRF failure page
def api_not_found(request, *args, **kwargs):
    return exception_handler.handler404(request)


# Roles, not Django groups, carry powers here (auth's admin registers after accounts').
if admin.site.is_registered(Group):
    admin.site.unregister(Group)

handler400 = "config.exception_handler.handler400"
handler403 = "config.exception_handler.handler403"
handler404 = "config.exception_handler.handler404"
handler500 = "config.exception_handler.handler500"

api_v1 = [
    re_path(r"^$", ServiceInfoView.as_view(), name="api-root"),
    # Tried in order, none overlapping: the few API-key routes (introspection among them), then
    # the accounts' (their hot paths first), then the probes.
    path("", include("apikeys.api.urls")),
    path("", include("accounts.api.urls")),
    route("health", HealthView, "api-health"),
    route("health/live", LivenessView, "api-health-live"),
]

urlpatterns = [
    path("api/v1/", include(api_v1)),
    path("metrics", metrics_view, name="metrics"),
    re_path(r"^\.well-known/jwks\.json/?$", discovery.JWKSView.as_view(), name="jwks"),
    re_path(
        r"^\.well-known/oauth-authorization-server/?$",
        discovery.AuthorizationServerMetadataView.as_view(),
        name="oauth-authorization-server",
    ),
    re_path(r"^api/schema/?$", SpectacularAPIView.as_view(), name="api-schema"),
    re_path(r"^api/docs/?$", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path(
        "reset-password/<uidb64>/<token>/",
        ResetPasswordPageView.as_view(),
        name="password-reset-page",
    ),
    path("verify-email/<uidb64>/<token>/", VerifyEmailPageView.as_view(), name="verify-email-page"),
    path("reset-password/done/", ResetPasswordDoneView.as_view(), name="password-reset-done"),
    path(
        "admin/password_change/",
        admin.site.admin_view(StaffPasswordChangeView.as_view()),
        name="staff-password-change",
    ),
    path("admin/", admin.site.urls),
    # Anything else under /api/ is a JSON 404, in DEBUG too.
    re_path(r"^api/", api_not_found),
]
