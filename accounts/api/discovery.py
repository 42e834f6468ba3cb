"""Discovery for resource servers: the JWKS and the RFC 8414 authorization-server metadata.

Public, unauthenticated, and served from the process's key set (no query in steady state).
"""

from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from accounts import signing
from accounts.api.views import PublicView

# Resource servers cache the JWKS this long; a new key is published JWT_KEY_PUBLISH_SECONDS
# (default 600, more than this) before it signs, so they never meet an unknown kid.
DISCOVERY_CACHE_CONTROL = "public, max-age=300"
INTROSPECTION_PATH = "/api/v1/auth/introspect"
JWKS_PATH = "/.well-known/jwks.json"


def authorization_server_metadata() -> dict:
    """RFC 8414 fields that apply to Gatehouse; it runs no OAuth authorization or token
    endpoint (login is its own JSON API), so it advertises no grant or response types."""
    base = settings.PUBLIC_BASE_URL
    return {
        "issuer": settings.JWT_ISSUER,
        "jwks_uri": base + JWKS_PATH,
        "introspection_endpoint": base + INTROSPECTION_PATH,
        # An API key with scope tokens:introspect, as X-API-Key or Authorization: Bearer.
        "introspection_endpoint_auth_methods_supported": ["api_key"],
        "response_types_supported": [],
        "grant_types_supported": [],
        "service_documentation": base + "/api/docs",
    }


class JWKSView(PublicView):
    @extend_schema(responses={200: dict}, auth=[])
    def get(self, request):
        return HttpResponse(
            signing.jwks_document(),
            content_type="application/json",
            headers={"Cache-Control": DISCOVERY_CACHE_CONTROL},
        )


class AuthorizationServerMetadataView(PublicView):
    @extend_schema(responses={200: dict}, auth=[])
    def get(self, request):
        return Response(authorization_server_metadata(), headers={"Cache-Control": DISCOVERY_CACHE_CONTROL})
