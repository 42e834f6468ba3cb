"""Thin views: validate input, call one service, render output."""

from http import HTTPStatus

from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import auth_state, selectors
from accounts.api import serializers as s
from accounts.mail import email_verification_link, password_reset_link
from accounts.models import RevokeReason
from accounts.permissions import HasScope, SessionOnly
from accounts.roles import Scope
from accounts.services.mfa import recovery_codes_regenerate, totp_confirm, totp_disable, totp_setup
from accounts.services.passwords import password_change, password_reset_complete, password_reset_request
from accounts.services.sessions import (
    MfaPending,
    mfa_login_complete,
    refresh_token_rotate,
    session_login,
    session_logout,
    session_revoke,
    session_revoke_all,
)
from accounts.services.users import user_profile_update
from accounts.services.verification import email_verification_resend, email_verify, user_register
from accounts.throttling import (
    ClientIPThrottle,
    ResetEmailThrottle,
    VerifyIPThrottle,
    prefetch_keys,
    prefetched_read,
)
from core import metrics
from core.errors import ServiceError
from core.request import RequestMeta


def _token_response(user, pair, status=HTTPStatus.OK) -> Response:
    # RFC 6749 5.1: responses carrying tokens must not be cached.
    return Response(
        s.token_response(user, pair),
        status=status,
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )


REGISTRATION_ACCEPTED = "Check your inbox: we sent a link to verify the address."
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _valid(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _plain_token(data) -> str | None:
    """The `token` of a body VerifySerializer would accept unchanged (a non-empty ASCII string
    without surrounding whitespace or NUL, at most 8192 characters), without instantiating it:
    verify is a hot read. None for anything else."""
    token = data.get("token") if isinstance(data, dict) else None
    if (
        isinstance(token, str)
        and 0 < len(token) <= s.TOKEN_MAX_LENGTH
        and token.isascii()
        and "\x00" not in token
        and token.strip() == token
    ):
        return token
    return None


def _session_id(request) -> str | None:
    """The sid of the access token that authenticated the request (None for an API key)."""
    sid = getattr(request.auth, "get", lambda _k: None)("sid")
    return str(sid) if sid else None


class TokenInBodyMixin:
    """For views that answer about the `token` in the body (verify, introspection): its cache
    entries are named before authentication and throttling run, so their one round trip reads
    them too. A body that does not parse fails where it always did: in the handler, after
    authentication and throttling (`body()`)."""

    _body_error: Exception | None = None

    def token_cache_keys(self, token: object) -> list[str]:
        return auth_state.access_token_state_keys(token)

    def initial(self, request, *args, **kwargs):
        try:
            data = request.data
        except Exception as exc:  # noqa: BLE001 (raised again by body())
            self._body_error = exc
        else:
            token = data.get("token") if isinstance(data, dict) else None
            prefetch_keys(request._request, self.token_cache_keys(token))
        super().initial(request, *args, **kwargs)  # type: ignore[misc]

    def body(self, request):
        if self._body_error is not None:
            raise self._body_error
        return request.data

    def cache_read(self, request):
        """The cache read for the token's entries: what the round trip prefetched."""
        return prefetched_read(request._request)


class PublicView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []


class RateLimitedPublicView(PublicView):
    """Per client IP, a bucket per endpoint (`ratelimit_group`)."""

    throttle_classes = [ClientIPThrottle]


class RegisterView(RateLimitedPublicView):
    ratelimit_group = "register"

    @extend_schema(request=s.RegisterSerializer, responses={201: s.UserSerializer, 202: s.DetailSerializer})
    def post(self, request):
        data = _valid(s.RegisterSerializer, request)
        user = user_register(
            username=data["username"],
            email=data["email"],
            password=data["password"],
            full_name=data["full_name"],
            verify_url=_verify_url(request),
            meta=RequestMeta.from_request(request),
        )
        if user is None:  # EMAIL_VERIFICATION=mandatory: the same answer for a taken address
            return Response({"detail": REGISTRATION_ACCEPTED}, status=HTTPStatus.ACCEPTED)
        return Response(s.UserSerializer(user).data, status=HTTPStatus.CREATED)


def _verify_url(request):
    """Links in mail come from PUBLIC_BASE_URL, never from the Host header a client chooses."""
    return email_verification_link


class VerifyEmailView(RateLimitedPublicView):
    ratelimit_group = "verify-email"

    @extend_schema(request=s.VerifyEmailSerializer, responses={204: None})
    def post(self, request):
        data = _valid(s.VerifyEmailSerializer, request)
        email_verify(uidb64=data["uid"], token=data["token"], meta=RequestMeta.from_request(request))
        return Response(status=HTTPStatus.NO_CONTENT)


class VerifyEmailResendView(APIView):
    permission_classes = [HasScope]
    required_scopes = {"POST": Scope.PROFILE_WRITE}

    @extend_schema(request=None, responses={202: None})
    def post(self, request):
        email_verification_resend(user_id=request.user.pk, verify_url=_verify_url(request))
        return Response(status=HTTPStatus.ACCEPTED)


class LoginView(RateLimitedPublicView):
    ratelimit_group = "login"

    @extend_schema(
        request=s.LoginSerializer,
        responses={
            200: PolymorphicProxySerializer(
                "LoginResponse", [s.TokenResponseSerializer, s.MfaPendingSerializer], None
            )
        },
    )
    def post(self, request):
        data = _valid(s.LoginSerializer, request)
        user, result = session_login(
            request=request._request,  # axes records failures against the Django request
            identifier=data["identifier"],
            password=data["password"],
            remember_me=data["remember_me"],
            meta=RequestMeta.from_request(request),
        )
        if isinstance(result, MfaPending):
            body = {"mfa_required": True, "mfa_token": result.mfa_token, "methods": list(result.methods)}
            return Response(body, headers=NO_STORE)
        return _token_response(user, result)


class LoginMfaView(RateLimitedPublicView):
    ratelimit_group = "login-mfa"

    @extend_schema(request=s.LoginMfaSerializer, responses={200: s.TokenResponseSerializer})
    def post(self, request):
        data = _valid(s.LoginMfaSerializer, request)
        user, pair = mfa_login_complete(
            request=request._request,
            mfa_token=data["mfa_token"],
            code=data["code"],
            meta=RequestMeta.from_request(request),
        )
        return _token_response(user, pair)


class RefreshView(RateLimitedPublicView):
    ratelimit_group = "refresh"

    @extend_schema(request=s.RefreshSerializer, responses={200: s.TokenResponseSerializer})
    def post(self, request):
        data = _valid(s.RefreshSerializer, request)
        try:
            user, pair = refresh_token_rotate(
                raw_token=data["refresh_token"], meta=RequestMeta.from_request(request)
            )
        except ServiceError as exc:
            metrics.token_refresh_refused(exc.code)  # success and reuse are counted from the audit
            raise
        return _token_response(user, pair)


class VerifyView(TokenInBodyMixin, PublicView):
    ratelimit_group = "verify"
    throttle_classes = [VerifyIPThrottle]

    @extend_schema(request=s.VerifySerializer, responses={200: s.VerifyResponseSerializer})
    def post(self, request):
        token = _plain_token(self.body(request))
        if token is None:  # anything unusual: the serializer decides, and words the error
            token = _valid(s.VerifySerializer, request)["token"]
        result = selectors.token_verify(raw_token=token, read=self.cache_read(request))
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
            session_id=_session_id(request),
            revoke_api_keys=data["revoke_api_keys"],
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


class TotpSetupView(APIView):
    permission_classes = [HasScope, SessionOnly]
    required_scopes = {"POST": Scope.PROFILE_WRITE}

    @extend_schema(request=s.PasswordSerializer, responses={200: s.TotpSetupSerializer})
    def post(self, request):
        data = _valid(s.PasswordSerializer, request)
        setup = totp_setup(user_id=request.user.pk, password=data["password"])
        body = {"secret": setup.secret, "otpauth_uri": setup.otpauth_uri, "qr_svg": setup.qr_svg}
        return Response(body, headers=NO_STORE)


class TotpConfirmView(APIView):
    permission_classes = [HasScope, SessionOnly]
    required_scopes = {"POST": Scope.PROFILE_WRITE}

    @extend_schema(request=s.MfaCodeSerializer, responses={200: s.RecoveryCodesSerializer})
    def post(self, request):
        data = _valid(s.MfaCodeSerializer, request)
        codes = totp_confirm(
            user_id=request.user.pk, code=data["code"], meta=RequestMeta.from_request(request)
        )
        return Response({"recovery_codes": codes}, headers=NO_STORE)


class TotpView(APIView):
    permission_classes = [HasScope, SessionOnly]
    required_scopes = {"DELETE": Scope.PROFILE_WRITE}

    @extend_schema(request=s.MfaDisableSerializer, responses={204: None})
    def delete(self, request):
        data = _valid(s.MfaDisableSerializer, request)
        totp_disable(
            user_id=request.user.pk,
            password=data["password"],
            code=data["code"],
            meta=RequestMeta.from_request(request),
        )
        return Response(status=HTTPStatus.NO_CONTENT)


class RecoveryCodesView(APIView):
    permission_classes = [HasScope, SessionOnly]
    required_scopes = {"POST": Scope.PROFILE_WRITE}

    @extend_schema(request=s.PasswordSerializer, responses={200: s.RecoveryCodesSerializer})
    def post(self, request):
        data = _valid(s.PasswordSerializer, request)
        codes = recovery_codes_regenerate(
            user_id=request.user.pk, password=data["password"], meta=RequestMeta.from_request(request)
        )
        return Response({"recovery_codes": codes}, headers=NO_STORE)
