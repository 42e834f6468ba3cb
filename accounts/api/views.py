"""Thin views: validate input, call one service, render output."""

from http import HTTPStatus

from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import selectors
from accounts.api import serializers as s
from accounts.mail import password_reset_link
from accounts.models import RevokeReason
from accounts.permissions import HasScope, SessionOnly
from accounts.roles import Scope
from accounts.services.passwords import password_change, password_reset_complete, password_reset_request
from accounts.services.sessions import (
    refresh_token_rotate,
    session_login,
    session_logout,
    session_revoke,
    session_revoke_all,
)
from accounts.services.users import user_create, user_profile_update
from accounts.throttling import ClientIPThrottle, ResetEmailThrottle
from core.request import RequestMeta


def _token_response(user, pair, status=HTTPStatus.OK) -> Response:
    # RFC 6749 5.1: responses carrying tokens must not be cached.
    return Response(
        s.token_response(user, pair),
        status=status,
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )


def _valid(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _session_id(request) -> str | None:
    """The sid of the access token that authenticated the request (None for an API key)."""
    sid = getattr(request.auth, "get", lambda _k: None)("sid")
    return str(sid) if sid else None


class PublicView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []


class RateLimitedPublicView(PublicView):
    """Per client IP, a bucket per endpoint (`ratelimit_group`)."""

    throttle_classes = [ClientIPThrottle]


class RegisterView(RateLimitedPublicView):
    ratelimit_group = "register"

    @extend_schema(request=s.RegisterSerializer, responses={201: s.UserSerializer})
    def post(self, request):
        data = _valid(s.RegisterSerializer, request)
        user = user_create(
            username=data["username"],
            email=data["email"],
            password=data["password"],
            full_name=data["full_name"],
            meta=RequestMeta.from_request(request),
        )
        return Response(s.UserSerializer(user).data, status=HTTPStatus.CREATED)


class LoginView(RateLimitedPublicView):
    ratelimit_group = "login"

    @extend_schema(request=s.LoginSerializer, responses={200: s.TokenResponseSerializer})
    def post(self, request):
        data = _valid(s.LoginSerializer, request)
        user, pair = session_login(
            request=request._request,  # axes records failures against the Django request
            identifier=data["identifier"],
            password=data["password"],
            remember_me=data["remember_me"],
            meta=RequestMeta.from_request(request),
        )
        return _token_response(user, pair)


class RefreshView(RateLimitedPublicView):
    ratelimit_group = "refresh"

    @extend_schema(request=s.RefreshSerializer, responses={200: s.TokenResponseSerializer})
    def post(self, request):
        data = _valid(s.RefreshSerializer, request)
        user, pair = refresh_token_rotate(
            raw_token=data["refresh_token"], meta=RequestMeta.from_request(request)
        )
        return _token_response(user, pair)


class VerifyView(PublicView):
    @extend_schema(request=s.VerifySerializer, responses={200: s.VerifyResponseSerializer})
    def post(self, request):
        data = _valid(s.VerifySerializer, request)
        result = selectors.token_verify(raw_token=data["token"])
        if "expires_at" in result:
            result["expires_at"] = s.iso_datetime(result["expires_at"])
        return Response(result, headers={"Cache-Control": "no-store"})


class PasswordResetView(RateLimitedPublicView):
    ratelimit_group = "password-reset"
    throttle_classes = [ClientIPThrottle, ResetEmailThrottle]

    @extend_schema(request=s.PasswordResetSerializer, responses={202: None})
    def post(self, request):
        data = _valid(s.PasswordResetSerializer, request)
        password_reset_request(
            email=data["email"],
            reset_url=password_reset_link,
            meta=RequestMeta.from_request(request),
        )
        return Response(status=HTTPStatus.ACCEPTED)


class PasswordResetConfirmView(RateLimitedPublicView):
    ratelimit_group = "password-reset-confirm"

    @extend_schema(request=s.PasswordResetConfirmSerializer, responses={204: None})
    def post(self, request):
        data = _valid(s.PasswordResetConfirmSerializer, request)
        password_reset_complete(
            uidb64=data["uid"],
            token=data["token"],
            new_password=data["new_password"],
            meta=RequestMeta.from_request(request),
        )
        return Response(status=HTTPStatus.NO_CONTENT)


class MeView(APIView):
    permission_classes = [HasScope]
    required_scopes = {"GET": Scope.PROFILE_READ, "PATCH": Scope.PROFILE_WRITE}

    @extend_schema(responses={200: s.UserSerializer})
    def get(self, request):
        return Response(s.user_representation(request.user))

    @extend_schema(request=s.ProfileUpdateSerializer, responses={200: s.UserSerializer})
    def patch(self, request):
        data = _valid(s.ProfileUpdateSerializer, request)
        user = user_profile_update(
            user_id=request.user.pk, full_name=data["full_name"], meta=RequestMeta.from_request(request)
        )
        return Response(s.UserSerializer(user).data)


class LogoutView(APIView):
    permission_classes = [HasScope]
    required_scopes = {"POST": Scope.PROFILE_WRITE}

    @extend_schema(request=s.LogoutSerializer, responses={204: None})
    def post(self, request):
        data = _valid(s.LogoutSerializer, request)
        session_logout(
            user=request.user,
            session_id=_session_id(request),
            raw_refresh=data.get("refresh_token"),
            meta=RequestMeta.from_request(request),
        )
        return Response(status=HTTPStatus.NO_CONTENT)


class LogoutAllView(APIView):
    permission_classes = [HasScope]
    required_scopes = {"POST": Scope.PROFILE_WRITE}

    @extend_schema(request=None, responses={204: None})
    def post(self, request):
        session_revoke_all(
            user=request.user, reason=RevokeReason.LOGOUT_ALL, meta=RequestMeta.from_request(request)
        )
        return Response(status=HTTPStatus.NO_CONTENT)


class ChangePasswordView(APIView):
    permission_classes = [HasScope, SessionOnly]
    required_scopes = {"POST": Scope.PROFILE_WRITE}

    @extend_schema(request=s.ChangePasswordSerializer, responses={200: s.TokenResponseSerializer})
    def post(self, request):
        data = _valid(s.ChangePasswordSerializer, request)
        user, pair = password_change(
            user_id=request.user.pk,
            current_password=data["current_password"],
            new_password=data["new_password"],
            meta=RequestMeta.from_request(request),
        )
        return _token_response(user, pair)


class SessionListView(APIView):
    permission_classes = [HasScope]
    required_scopes = {"GET": Scope.PROFILE_READ}

    @extend_schema(responses={200: s.SessionSerializer(many=True)})
    def get(self, request):
        sessions = selectors.session_list_for_user(user_id=request.user.pk)
        context = {"current_session_id": _session_id(request)}
        return Response(s.SessionSerializer(sessions, many=True, context=context).data)


class SessionDetailView(APIView):
    permission_classes = [HasScope]
    required_scopes = {"DELETE": Scope.PROFILE_WRITE}

    @extend_schema(responses={204: None})
    def delete(self, request, session_id):
        session_revoke(user=request.user, session_id=session_id, meta=RequestMeta.from_request(request))
        return Response(status=HTTPStatus.NO_CONTENT)
