"""Second factors: a TOTP device (django-otp, RFC 6238), single-use recovery codes, and the
challenge a password login leaves when a code is still owed. Logins themselves are in
accounts.services.sessions; an operator's reset is in accounts.services.users."""

import hmac
import re
import secrets
import uuid
from base64 import b32encode
from dataclasses import dataclass
from datetime import timedelta

import segno
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import auth_state
from accounts.errors import (
    MFA_CODE_INVALID,
    WRONG_CURRENT_PASSWORD,
    CurrentPasswordWrong,
    MfaCodeWrong,
)
from accounts.models import MfaChallenge, RecoveryCode, User
from accounts.validators import password_too_long
from audit.models import Event
from audit.services import audit_record
from core.errors import Conflict, ServiceError
from core.request import SYSTEM, RequestMeta

MFA_ALREADY_ENABLED = "MFA is already enabled: disable it first to enrol another device."
MFA_NOT_PENDING = "There is no device waiting to be confirmed: start with /auth/mfa/totp/setup."
MFA_NOT_ENABLED = "MFA is not enabled on this account."

METHODS = ("totp", "recovery_code")
DEVICE_NAME = "authenticator"
# Lower case without 0/o, 1/l/i: read aloud and typed from paper. 10 of 31 symbols: ~50 bits.
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
_RECOVERY_LENGTH = 10
_TOTP_CODE = re.compile(r"\d{6}")


@dataclass(frozen=True)
class TotpSetup:
    secret: str
    otpauth_uri: str
    qr_svg: str


def keyed_hash(purpose: str, value: str) -> str:
    """HMAC-SHA256 under a key derived from the Django secret, one key per purpose."""
    return salted_hmac(f"gatehouse.mfa.{purpose}", value, algorithm="sha256").hexdigest()


def _normalize(code: str) -> str:
    return re.sub(r"[\s-]", "", code or "").lower()


def _password_verified(user: User, password: str, *, field: str = "password") -> None:
    if password_too_long(password) or not user.check_password(password):
        raise CurrentPasswordWrong(errors={field: [WRONG_CURRENT_PASSWORD]})


def qr_svg(uri: str) -> str:
    """The otpauth URI as an inline SVG QR code (no image request, no third party)."""
    return segno.make(uri, error="m").svg_inline(scale=4, dark="#000", light="#fff")


def totp_device_pending(*, user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=False).first()


def totp_setup_describe(device: TOTPDevice) -> TotpSetup:
    uri = device.config_url
    return TotpSetup(secret=b32encode(device.bin_key).decode(), otpauth_uri=uri, qr_svg=qr_svg(uri))


def totp_device_create(*, user_id: int) -> TotpSetup:
    """A new unconfirmed device (replacing an unconfirmed one); refused once MFA is enabled."""
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user_id)
        if user.mfa_enabled:
            raise Conflict(MFA_ALREADY_ENABLED)
        TOTPDevice.objects.filter(user=user).delete()
        device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)
    return totp_setup_describe(device)


def totp_setup(*, user_id: int, password: str) -> TotpSetup:
    """Start enrolment after re-checking the password: the secret, its URI and QR code."""
    _password_verified(User.objects.get(pk=user_id), password)
    return totp_device_create(user_id=user_id)


def _recovery_codes_replace(user: User) -> list[str]:
    count = settings.MFA_RECOVERY_CODE_COUNT
    codes = [
        "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(_RECOVERY_LENGTH)) for _ in range(count)
    ]
    RecoveryCode.objects.filter(user=user).delete()
    RecoveryCode.objects.bulk_create(
        [RecoveryCode(user=user, code_hash=keyed_hash("recovery-code", code)) for code in codes]
    )
    return [f"{code[:5]}-{code[5:]}" for code in codes]


def mfa_code_verify(*, user: User, code: str) -> str | None:
    """Which factor a code proves ("totp" or "recovery_code"), or None. Call inside a
    transaction: the device row is locked, so two requests cannot both pass the replay check
    (django-otp's `last_t`), and a recovery code is spent by one conditional UPDATE."""
    code = _normalize(code)
    if _TOTP_CODE.fullmatch(code):
        device = TOTPDevice.objects.select_for_update().filter(user_id=user.pk, confirmed=True).first()
        return "totp" if device is not None and device.verify_token(code) else None
    if len(code) == _RECOVERY_LENGTH:
        spent = RecoveryCode.objects.filter(
            user_id=user.pk, code_hash=keyed_hash("recovery-code", code), used_at__isnull=True
        ).update(used_at=timezone.now())
        return "recovery_code" if spent else None
    return None


def totp_confirm(*, user_id: int, code: str, meta: RequestMeta = SYSTEM) -> list[str]:
    """Confirm the pending device with a code from it: MFA is on; the recovery codes are
    returned (once, they are kept hashed)."""
    codes: list[str] = []
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user_id)
        if user.mfa_enabled:
            raise Conflict(MFA_ALREADY_ENABLED)
        device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=False).first()
        if device is None:
            raise ServiceError(MFA_NOT_PENDING, errors={"code": [MFA_NOT_PENDING]})
        normalized = _normalize(code)
        if _TOTP_CODE.fullmatch(normalized) and device.verify_token(normalized):
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            user.mfa_enabled = True
            user.save(update_fields=["mfa_enabled"])
            codes = _recovery_codes_replace(user)
            auth_state.publish_user_changed(user.pk)
            audit_record(event=Event.MFA_ENABLED, meta=meta, target=user, details={"method": "totp"})
    if not codes:
        raise MfaCodeWrong(errors={"code": [MFA_CODE_INVALID]})
    return codes


def mfa_disable_locked(*, user: User) -> None:
    """Remove every factor of a locked user row, in the caller's transaction (which audits)."""
    TOTPDevice.objects.filter(user=user).delete()
    RecoveryCode.objects.filter(user=user).delete()
    MfaChallenge.objects.filter(user=user).delete()
    user.mfa_enabled = False
    user.save(update_fields=["mfa_enabled"])
    auth_state.publish_user_changed(user.pk)


def totp_disable(*, user_id: int, password: str, code: str, meta: RequestMeta = SYSTEM) -> None:
    """Turn MFA off: needs the password and a current code (or a recovery code)."""
    _password_verified(User.objects.get(pk=user_id), password)
    method = None
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user_id)
        if not user.mfa_enabled:
            raise ServiceError(MFA_NOT_ENABLED)
        method = mfa_code_verify(user=user, code=code)
        if method is not None:
            mfa_disable_locked(user=user)
            audit_record(event=Event.MFA_DISABLED, meta=meta, target=user, details={"method": method})
    if method is None:
        raise MfaCodeWrong(errors={"code": [MFA_CODE_INVALID]})


def recovery_codes_regenerate(*, user_id: int, password: str, meta: RequestMeta = SYSTEM) -> list[str]:
    """A new set of recovery codes; the old ones stop working."""
    _password_verified(User.objects.get(pk=user_id), password)
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user_id)
        if not user.mfa_enabled:
            raise ServiceError(MFA_NOT_ENABLED)
        codes = _recovery_codes_replace(user)
        audit_record(event=Event.MFA_RECOVERY_CODES_REGENERATED, meta=meta, target=user)
    return codes


def mfa_challenge_start(*, user: User, remember_me: bool) -> str:
    """After a right password: the opaque token the client trades, with a code, for tokens."""
    secret = secrets.token_urlsafe(32)
    now = timezone.now()
    challenge = MfaChallenge.objects.create(
        user=user,
        secret_hash=keyed_hash("challenge", secret),
        password_marker=keyed_hash("password", user.password),
        remember_me=remember_me,
        created_at=now,
        expires_at=now + timedelta(seconds=settings.MFA_TOKEN_LIFETIME_SECONDS),
    )
    return f"{challenge.pk.hex}.{secret}"


def mfa_challenge_locked(raw: str) -> MfaChallenge | None:
    """The challenge a token names, row-locked, with its user; None if unknown or forged."""
    if not isinstance(raw, str) or raw.count(".") != 1 or len(raw) > 200:
        return None
    challenge_id, secret = raw.split(".")
    try:
        pk = uuid.UUID(hex=challenge_id)
    except ValueError:
        return None
    challenge = (
        MfaChallenge.objects.select_for_update(of=("self",)).select_related("user").filter(pk=pk).first()
    )
    if challenge is None or not hmac.compare_digest(challenge.secret_hash, keyed_hash("challenge", secret)):
        return None
    return challenge


def mfa_challenge_usable(challenge: MfaChallenge) -> bool:
    return (
        challenge.used_at is None
        and challenge.expires_at > timezone.now()
        and challenge.attempts < settings.MFA_MAX_ATTEMPTS
        and hmac.compare_digest(challenge.password_marker, keyed_hash("password", challenge.user.password))
    )
