"""POST /api/v1/auth/introspect (RFC 7662), for resource servers holding a service key."""

from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.parsers import FormParser
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from accounts.api.views import TokenInBodyMixin
from accounts.permissions import effective_scopes
from accounts.roles import Scope
from accounts.throttling import VerifyIPThrottle
from apikeys.authentication import KeyPrincipal
from apikeys.introspection import introspection_keys, token_introspect
from core.errors import ServiceError

INTROSPECTION_FORBIDDEN = "Introspection needs an API key with the tokens:introspect scope."
TOKEN_REQUIRED = "This field is required."  # noqa: S105 (a message, not a password)
TOKEN_NOT_STRING = "Not a valid string."  # noqa: S105


class IsIntrospectionCaller(BasePermission):
    """An API key whose scopes, within its owner's current role, include tokens:introspect.

    Never an access token, even an admin's: the contract makes the caller a key, which a
    resource server can hold without holding anyone's login.
    """

    message = INTROSPECTION_FORBIDDEN

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False  # DRF answers 401 not_authenticated: no credentials were sent
        return isinstance(request.auth, KeyPrincipal) and Scope.TOKENS_INTROSPECT in effective_scopes(request)


_REQUEST = inline_serializer(
    "IntrospectRequest",
    {
        "token": serializers.CharField(help_text="An access token (JWT) or an API key (gk_…)."),
        "token_type_hint": serializers.ChoiceField(
            choices=["access_token", "refresh_token", "api_key"],
            required=False,
            help_text="Optional; an unknown hint answers inactive.",
        ),
    },
)
_RESPONSE = inline_serializer(
    "IntrospectResponse",
    {
        "active": serializers.BooleanField(),
        "token_type": serializers.ChoiceField(choices=["access_token", "api_key"], required=False),
        "sub": serializers.CharField(required=False, help_text="The user id, as text."),
        "username": serializers.CharField(required=False),
        "role": serializers.CharField(required=False),
        "scope": serializers.CharField(required=False, help_text="Space-separated scopes."),
        "exp": serializers.IntegerField(required=False, allow_null=True, help_text="Epoch seconds."),
        "iat": serializers.IntegerField(required=False, allow_null=True, help_text="Epoch seconds."),
        "iss": serializers.CharField(required=False),
        "aud": serializers.CharField(required=False),
        "sid": serializers.CharField(required=False, help_text="Session id (access tokens)."),
        "key_prefix": serializers.CharField(required=False, help_text="Public prefix (API keys)."),
    },
)


class IntrospectView(TokenInBodyMixin, APIView):
    # JSON (the project default) or the form encoding RFC 7662 specifies.
    parser_classes = [*api_settings.DEFAULT_PARSER_CLASSES, FormParser]
    permission_classes = [IsIntrospectionCaller]
    # Per client IP only: a resource server introspects on its own hot path, which the
    # per-key hourly budget of authenticated requests would throttle to a crawl.
    throttle_classes = [VerifyIPThrottle]
    ratelimit_group = "introspect"

    def token_cache_keys(self, token: object) -> list[str]:
        return introspection_keys(token)

    @extend_schema(
        operation_id="auth_introspect",
        summary="Is this access token or API key active? (RFC 7662)",
        description=(
            "For resource servers: the caller is an API key with the `tokens:introspect` scope "
            '(owned by a service account or an admin). Answers `{"active": false}` and nothing '
            "else for anything unknown, expired, revoked, deactivated, malformed, a refresh "
            "token or an unknown hint. Revocations show within one second."
        ),
        request={"application/json": _REQUEST, "application/x-www-form-urlencoded": _REQUEST},
        responses={200: _RESPONSE},
        examples=[
            OpenApiExample("Inactive", value={"active": False}, response_only=True),
        ],
    )
    def post(self, request):
        data = self.body(request)
        token = data.get("token") if isinstance(data, dict) else None
        if token is None or token == "":
            raise ServiceError(errors={"token": [TOKEN_REQUIRED]})
        if not isinstance(token, str):
            raise ServiceError(errors={"token": [TOKEN_NOT_STRING]})
        answer = token_introspect(
            raw_token=token, hint=data.get("token_type_hint"), read=self.cache_read(request)
        )
        # RFC 7662 4: introspection answers must not be cached.
        return Response(answer, headers={"Cache-Control": "no-store"})
