"""Input validation and output shapes only: rules live in accounts.services."""

from datetime import timedelta

from django.conf import settings
from rest_framework import ISO_8601, serializers
from rest_framework.settings import api_settings

from accounts.models import Role, Session, username_validator
from accounts.selectors import user_is_locked
from accounts.validators import PASSWORD_MAX_LENGTH

NOT_WRITABLE_HERE = "This field cannot be changed here."
NOT_A_STRING = "Not a valid string."
USERNAME_OR_EMAIL = "Give a username or an email address."
USERNAME_AND_EMAIL = "Give a username or an email address, not both."
PASSWORD_MIN_LENGTH = 12  # AUTH_PASSWORD_VALIDATORS' MinimumLengthValidator
PASSWORD_RULES = (
    f"A new password: {PASSWORD_MIN_LENGTH} to {PASSWORD_MAX_LENGTH} characters, spaces count "
    "(a passphrase is welcome); not a common password, not only digits, not too similar to the "
    "username, email or full name; not one of the account's recent passwords. A password that "
    "breaks these rules is a 400 `password_invalid`."
)


class StrictCharField(serializers.CharField):
    """A string and nothing else: DRF's CharField would take 123 or 1.5 as "123", which the
    schema (`type: string`) forbids."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("not_a_string")
        return super().to_internal_value(data)

    default_error_messages = {"not_a_string": NOT_A_STRING}


def password_field(**kwargs) -> serializers.CharField:
    # No trimming: spaces are part of a passphrase (NIST SP 800-63B). A new password's rules
    # (PASSWORD_RULES) are the password validators' (a 400 `password_invalid`); the schema
    # states them (config/openapi.py).
    return StrictCharField(max_length=PASSWORD_MAX_LENGTH, trim_whitespace=False, write_only=True, **kwargs)


class UserSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    email = serializers.EmailField()
    full_name = serializers.CharField()
    role = serializers.ChoiceField(choices=Role.choices)
    is_active = serializers.BooleanField()
    date_joined = serializers.DateTimeField()
    last_login = serializers.DateTimeField(allow_null=True)
    mfa_enabled = serializers.BooleanField()
    email_verified = serializers.BooleanField()


def user_representation(user) -> dict:
    """The user object, rendered without a serializer instance: this is on every /me request.
    Same output as UserSerializer (which documents the shape in the schema)."""
    get = user.get if isinstance(user, dict) else lambda name: getattr(user, name)
    return {
        "id": get("id"),
        "username": get("username"),
        "email": get("email"),
        "full_name": get("full_name"),
        "role": get("role"),
        "is_active": get("is_active"),
        "date_joined": iso_datetime(get("date_joined")),
        "last_login": iso_datetime(get("last_login")),
        "mfa_enabled": get("mfa_enabled"),
        "email_verified": get("email_verified"),
    }


_DATETIME = serializers.DateTimeField()
_ZERO = timedelta(0)


def iso_datetime(value):
    """What DRF's DateTimeField renders (ISO 8601, `Z` for UTC); UTC values, which is what the
    database and the cached snapshots hold, without its per-call settings lookups."""
    if value is None:
        return None
    if (
        value.utcoffset() == _ZERO
        and settings.TIME_ZONE == "UTC"
        and api_settings.DATETIME_FORMAT == ISO_8601
    ):
        return value.isoformat().removesuffix("+00:00") + "Z"
    return _DATETIME.to_representation(value)


class TokenResponseSerializer(serializers.Serializer):
    access_token = serializers.CharField()
    refresh_token = serializers.CharField()
    token_type = serializers.CharField(default="bearer")
    expires_in = serializers.IntegerField()
    refresh_expires_in = serializers.IntegerField()
    user = UserSerializer()


def token_response(user, pair) -> dict:
    return {
        "access_token": pair.access_token,
        "refresh_token": pair.refresh_token,
        "token_type": "bearer",
        "expires_in": pair.expires_in,
        "refresh_expires_in": pair.refresh_expires_in,
        "user": user_representation(user),
    }


class RegisterSerializer(serializers.Serializer):
    username = StrictCharField(max_length=150, min_length=3, validators=[username_validator])
    email = serializers.EmailField(max_length=254)
    password = password_field()
    full_name = StrictCharField(max_length=150, required=False, allow_blank=True, default="")


class LoginSerializer(serializers.Serializer):
    """`username` or `email` (exactly one of them) and the password."""

    username = StrictCharField(max_length=254, required=False)
    email = StrictCharField(max_length=254, required=False)
    password = password_field()
    remember_me = serializers.BooleanField(required=False, default=False)

    def validate(self, attrs):
        if "username" in attrs and "email" in attrs:
            raise serializers.ValidationError({"username": [USERNAME_AND_EMAIL]})
        identifier = attrs.get("username") or attrs.get("email")
        if not identifier:
            raise serializers.ValidationError({"username": [USERNAME_OR_EMAIL]})
        attrs["identifier"] = identifier
        return attrs


class MfaPendingSerializer(serializers.Serializer):
    mfa_required = serializers.BooleanField()
    mfa_token = serializers.CharField()
    methods = serializers.ListField(child=serializers.CharField())


class LoginMfaSerializer(serializers.Serializer):
    mfa_token = serializers.CharField(max_length=200)
    code = serializers.CharField(max_length=32)


class VerifyEmailSerializer(serializers.Serializer):
    uid = serializers.CharField(max_length=64)
    token = serializers.CharField(max_length=128)


class DetailSerializer(serializers.Serializer):
    detail = serializers.CharField()


class PasswordSerializer(serializers.Serializer):
    password = password_field()


class MfaCodeSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=32)


class MfaDisableSerializer(serializers.Serializer):
    password = password_field()
    code = serializers.CharField(max_length=32)


class TotpSetupSerializer(serializers.Serializer):
    secret = serializers.CharField()
    otpauth_uri = serializers.CharField()
    qr_svg = serializers.CharField()


class RecoveryCodesSerializer(serializers.Serializer):
    recovery_codes = serializers.ListField(child=serializers.CharField())


class RefreshSerializer(serializers.Serializer):
    refresh_token = StrictCharField(max_length=8192, trim_whitespace=True)


TOKEN_MAX_LENGTH = 8192


class VerifySerializer(serializers.Serializer):
    token = StrictCharField(max_length=TOKEN_MAX_LENGTH, trim_whitespace=True)


class VerifyResponseSerializer(serializers.Serializer):
    valid = serializers.BooleanField()
    user_id = serializers.IntegerField(required=False)
    token_type = serializers.CharField(required=False)
    expires_at = serializers.DateTimeField(required=False)
    code = serializers.CharField(required=False)


class ProfileUpdateSerializer(serializers.Serializer):
    full_name = StrictCharField(max_length=150, allow_blank=True)

    def validate(self, attrs):
        forbidden = set(self.initial_data) - set(self.fields)
        if forbidden:
            raise serializers.ValidationError({field: [NOT_WRITABLE_HERE] for field in sorted(forbidden)})
        return attrs


class LogoutSerializer(serializers.Serializer):
    refresh_token = StrictCharField(max_length=8192, required=False)


class ChangePasswordSerializer(serializers.Serializer):
    current_password = password_field()
    new_password = password_field()
    revoke_api_keys = serializers.BooleanField(
        required=False, default=False, help_text="Also revoke every API key of the account, for good."
    )


class PasswordResetSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)


class PasswordResetConfirmSerializer(serializers.Serializer):
    uid = StrictCharField(max_length=64)
    token = StrictCharField(max_length=128)
    new_password = password_field()


class SessionSerializer(serializers.ModelSerializer):
    current = serializers.SerializerMethodField()

    class Meta:
        model = Session
        fields = ["id", "created_at", "last_used_at", "expires_at", "ip_address", "user_agent", "current"]

    def get_current(self, session: Session) -> bool:
        return str(session.pk) == self.context.get("current_session_id")


class AdminUserSerializer(UserSerializer):
    locked = serializers.SerializerMethodField()

    def get_locked(self, user) -> bool:
        locked = getattr(user, "is_locked", None)  # annotated by selectors.user_list
        return user_is_locked(user=user) if locked is None else locked


class AdminUserPageSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = AdminUserSerializer(many=True)


class AdminUserQuerySerializer(serializers.Serializer):
    search = serializers.CharField(max_length=150, required=False, allow_blank=True)
    role = serializers.ChoiceField(choices=Role.choices, required=False)
    is_active = serializers.BooleanField(required=False, allow_null=True, default=None)
    locked = serializers.BooleanField(required=False, allow_null=True, default=None)


class AdminUserUpdateSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices, required=False)
    is_active = serializers.BooleanField(required=False)
    full_name = StrictCharField(max_length=150, required=False, allow_blank=True)

    def validate(self, attrs):
        forbidden = set(self.initial_data) - set(self.fields)
        if forbidden:
            raise serializers.ValidationError({field: [NOT_WRITABLE_HERE] for field in sorted(forbidden)})
        return attrs
