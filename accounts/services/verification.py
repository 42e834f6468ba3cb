"""Email verification: the link mailed at registration (or on request), and registration
itself, whose answer depends on EMAIL_VERIFICATION."""

from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models.functions import Lower
from django.utils.crypto import constant_time_compare
from django.utils.encoding import force_str
from django.utils.http import base36_to_int, urlsafe_base64_decode, urlsafe_base64_encode

from accounts import auth_state
from accounts.errors import VERIFY_LINK_INVALID
from accounts.mail import mail_send_later
from accounts.models import User
from accounts.services.users import password_check, user_create, username_check
from audit.models import Event
from audit.services import audit_record
from core.errors import ServiceError
from core.request import SYSTEM, RequestMeta

LinkBuilder = Callable[[str, str], str]
ALREADY_VERIFIED = "This email address is already verified."


class EmailVerificationTokenGenerator(PasswordResetTokenGenerator):
    """Django's reset-token scheme (HMAC over the user's state and a timestamp) with its own
    salt and lifetime. The state includes `email_verified` and `email`, so a link dies once it
    is used or the address changes."""

    key_salt = "gatehouse.accounts.EmailVerificationTokenGenerator"

    def _make_hash_value(self, user, timestamp: int) -> str:
        return f"{user.pk}{user.email}{user.email_verified}{timestamp}"

    def check_token(self, user, token) -> bool:
        if not (user and token) or not isinstance(token, str) or token.count("-") != 1:
            return False
        ts_b36, _hash = token.split("-")
        try:
            ts = base36_to_int(ts_b36)
        except ValueError:
            return False
        if not any(
            constant_time_compare(self._make_token_with_timestamp(user, ts, secret), token)
            for secret in [self.secret, *self.secret_fallbacks]
        ):
            return False
        return (self._num_seconds(self._now()) - ts) <= settings.EMAIL_VERIFICATION_TIMEOUT


email_verification_tokens = EmailVerificationTokenGenerator()


def _verification_mail(*, user: User, verify_url: LinkBuilder) -> None:
    uidb64 = urlsafe_base64_encode(str(user.pk).encode())
    link = verify_url(uidb64, email_verification_tokens.make_token(user))
    body = (
        f"Please confirm that {user.email} is the address of the Gatehouse account {user.username}.\n\n"
        f"Open this link within three days:\n{link}\n\n"
        "If you did not create this account, ignore this message.\n"
    )
    to = user.email
    transaction.on_commit(lambda: mail_send_later(subject="Verify your email address", body=body, to=to))


def user_register(
    *, username: str, email: str, password: str, full_name: str, verify_url: LinkBuilder, meta: RequestMeta
) -> User | None:
    """Registration. Returns the new user, or None in `mandatory` mode, where the answer must
    not tell whether the address was already registered: its owner gets a mail instead."""
    mode = settings.EMAIL_VERIFICATION
    if mode == "mandatory":
        # Everything a fresh address would be refused for is checked first, so a taken
        # address cannot be told apart by a 400 that a fresh one would get.
        username_check(username=username.strip())
        try:
            validate_email(email.strip())
        except DjangoValidationError as exc:
            raise ServiceError(errors={"email": list(exc.messages)}) from None
        candidate = User(username=username.strip(), email=email.strip(), full_name=full_name.strip())
        password_check(password=password, user=candidate)
        owner = User.objects.alias(e=Lower("email")).filter(e=email.strip().lower()).first()
        if owner is not None:
            make_password(password)  # the same hashing work as a real registration
            body = (
                f"Someone tried to register a Gatehouse account with {owner.email}, which already "
                f"belongs to the account {owner.username}.\n\nIf it was you, log in or reset your "
                "password instead. If not, ignore this message.\n"
            )
            to = owner.email
            transaction.on_commit(
                lambda: mail_send_later(subject="You already have a Gatehouse account", body=body, to=to)
            )
            return None
    with transaction.atomic():
        user = user_create(username=username, email=email, password=password, full_name=full_name, meta=meta)
        if mode != "none":
            _verification_mail(user=user, verify_url=verify_url)
    return None if mode == "mandatory" else user


def email_verification_resend(*, user_id: int, verify_url: LinkBuilder) -> None:
    """Mail a fresh link (an already verified address gets none)."""
    user = User.objects.get(pk=user_id)
    if user.email_verified:
        return
    _verification_mail(user=user, verify_url=verify_url)


def email_verification_user(*, uidb64: str, token: str) -> User | None:
    """The user a verification link is for, if the link is still good."""
    try:
        pk = int(force_str(urlsafe_base64_decode(uidb64)))
    except (TypeError, ValueError, OverflowError, UnicodeDecodeError):
        return None
    user = User.objects.filter(pk=pk, is_active=True).first()
    if user is None or not email_verification_tokens.check_token(user, token):
        return None
    return user


def email_verify(*, uidb64: str, token: str, meta: RequestMeta = SYSTEM) -> User:
    """Mark the address verified; the link is checked again under the row lock (single use)."""
    user = email_verification_user(uidb64=uidb64, token=token)
    if user is None:
        raise ServiceError(VERIFY_LINK_INVALID, errors={"token": [VERIFY_LINK_INVALID]})
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        if not email_verification_tokens.check_token(user, token):
            raise ServiceError(VERIFY_LINK_INVALID, errors={"token": [VERIFY_LINK_INVALID]})
        user.email_verified = True
        user.save(update_fields=["email_verified"])
        auth_state.publish_user_changed(user.pk)
        audit_record(event=Event.EMAIL_VERIFIED, meta=meta, target=user, details={"email": user.email})
    return user
