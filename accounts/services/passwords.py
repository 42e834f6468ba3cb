"""Passwords: change a known one, reset a forgotten one, set one as an operator."""

from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.db import transaction
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.http import urlsafe_base64_encode

from accounts import hooks
from accounts.emails import email_lookup_key
from accounts.errors import RESET_LINK_INVALID, WRONG_CURRENT_PASSWORD, CurrentPasswordWrong
from accounts.mail import mail_send_later, mail_skip_later
from accounts.models import RevokeReason, User
from accounts.selectors import password_reset_user, session_owned
from accounts.services.history import password_history_check, password_history_record
from accounts.services.sessions import session_revoke, session_start, sessions_revoke_all_locked
from accounts.services.users import password_check
from accounts.tokens import TokenPair
from accounts.validators import password_too_long
from audit.models import AuditEvent, Event, Outcome
from audit.services import audit_record
from core.errors import ServiceError
from core.request import SYSTEM, RequestMeta


def password_change(
    *,
    user_id: int,
    current_password: str,
    new_password: str,
    meta: RequestMeta,
    session_id: str | None = None,
    revoke_api_keys: bool = False,
) -> tuple[User, TokenPair]:
    """Change a known password: every session ends and a fresh one starts for this client;
    with `revoke_api_keys` every API key of the user is revoked too."""
    user = User.objects.get(pk=user_id)
    if password_too_long(current_password) or not user.check_password(current_password):
        _password_change_failed(user=user, session_id=session_id, meta=meta)
        raise CurrentPasswordWrong(errors={"current_password": [WRONG_CURRENT_PASSWORD]})
    password_check(password=new_password, user=user, field="new_password")
    password_history_check(user=user, password=new_password)
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        if locked.password != user.password:  # changed meanwhile by another request
            raise CurrentPasswordWrong(errors={"current_password": [WRONG_CURRENT_PASSWORD]})
        user.set_password(new_password)
        user.save(update_fields=["password"])
        password_history_record(user=user)
        revoked = sessions_revoke_all_locked(user_id=user.pk, reason=RevokeReason.PASSWORD_CHANGE)
        if revoke_api_keys:
            hooks.user_credentials_revoked_publish(user.pk, RevokeReason.PASSWORD_CHANGE, meta)
        session, pair = session_start(user=user, remember_me=False, meta=meta)
        audit_record(
            event=Event.PASSWORD_CHANGED,
            meta=meta,
            target=user,
            details={
                "sessions_revoked": revoked,
                "new_session_id": str(session.pk),
                "api_keys_revoked": revoke_api_keys,
            },
        )
    return user, pair


def _password_change_failed(*, user: User, session_id: str | None, meta: RequestMeta) -> None:
    """Audit a wrong current password; at AXES_FAILURE_LIMIT of them within the cool-off (since
    this session began) the session ends, so a stolen token is no password oracle."""
    now = timezone.now()
    with transaction.atomic():
        audit_record(
            event=Event.PASSWORD_CHANGE_FAILED,
            meta=meta,
            outcome=Outcome.FAILURE,
            target=user,
            details={"session_id": session_id},
        )
        session = session_owned(session_id=session_id, user_id=user.pk).first() if session_id else None
        since = now - settings.AXES_COOLOFF_TIME
        if session is not None:
            since = max(since, session.created_at)
        failures = AuditEvent.objects.filter(
            target_ref=user.pk, event=Event.PASSWORD_CHANGE_FAILED, timestamp__gte=since
        ).count()
        if session is not None and session.revoked_at is None and failures >= settings.AXES_FAILURE_LIMIT:
            session_revoke(user=user, session_id=session.pk, reason=RevokeReason.PASSWORD_GUESSING, meta=meta)


def password_reset_request(*, email: str, reset_url: Callable[[str, str], str], meta: RequestMeta) -> None:
    """Mail a reset link if an active account has this address; say nothing either way."""
    user = User.objects.alias(e=Lower("email")).filter(e=email_lookup_key(email), is_active=True).first()
    sendable = user is not None and user.has_usable_password()
    audit_record(
        event=Event.PASSWORD_RESET_REQUESTED,
        meta=meta,
        target=user,
        target_label=email.strip()[:200],
        details={"mail_sent": sendable},
    )
    if user is None or not sendable:
        mail_skip_later()  # the same insert as a mail: no timing difference to read
        return
    uidb64 = urlsafe_base64_encode(str(user.pk).encode())
    token = default_token_generator.make_token(user)
    link = reset_url(uidb64, token)
    body = (
        f"Someone asked to reset the password of the Gatehouse account {user.username}.\n\n"
        f"To choose a new password, open this link within an hour:\n{link}\n\n"
        "If it was not you, ignore this message: your password has not changed.\n"
    )
    mail_send_later(subject="Reset your Gatehouse password", body=body, to=user.email)


def _password_replace(
    *,
    user: User,
    new_password: str,
    reason: str,
    event: str,
    meta: RequestMeta,
    reset_token: str | None = None,
) -> None:
    password_check(password=new_password, user=user, field="new_password")
    with transaction.atomic():
        # The row lock orders this against a login in flight (see session_login) and against a
        # second use of the same reset link: the token is checked again under the lock.
        user = User.objects.select_for_update().get(pk=user.pk)
        if reset_token is not None and not default_token_generator.check_token(user, reset_token):
            raise ServiceError(RESET_LINK_INVALID, errors={"token": [RESET_LINK_INVALID]})
        password_history_check(user=user, password=new_password)
        user.set_password(new_password)
        user.save(update_fields=["password"])
        password_history_record(user=user)
        revoked = sessions_revoke_all_locked(user_id=user.pk, reason=reason)
        if reason == RevokeReason.PASSWORD_RESET:
            # Whoever reset the password may be recovering the account from an intruder.
            hooks.user_credentials_revoked_publish(user.pk, reason, meta)
        audit_record(event=event, meta=meta, target=user, details={"sessions_revoked": revoked})


def password_reset_finish(*, user: User, new_password: str, token: str, meta: RequestMeta = SYSTEM) -> None:
    """Set the password from a reset link (its token checked under a row lock, so a link
    works once even when used twice at the same moment); every session of the user ends."""
    _password_replace(
        user=user,
        new_password=new_password,
        reason=RevokeReason.PASSWORD_RESET,
        event=Event.PASSWORD_RESET_COMPLETED,
        meta=meta,
        reset_token=token,
    )


def password_set(*, user: User, new_password: str, meta: RequestMeta) -> None:
    """Set a known user's password (manage.py changepassword, the admin's own password page);
    every API session of the user ends."""
    _password_replace(
        user=user,
        new_password=new_password,
        reason=RevokeReason.PASSWORD_CHANGE,
        event=Event.PASSWORD_CHANGED,
        meta=meta,
    )


def password_reset_complete(*, uidb64: str, token: str, new_password: str, meta: RequestMeta) -> None:
    """The API side of a reset: check the link's uid and token, then set the password."""
    user = password_reset_user(uidb64=uidb64, token=token)
    if user is None:
        raise ServiceError(RESET_LINK_INVALID, errors={"token": [RESET_LINK_INVALID]})
    password_reset_finish(user=user, new_password=new_password, token=token, meta=meta)
