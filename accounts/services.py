"""Every write to accounts and sessions. Views, the admin and commands all come through here."""

import logging
import threading
from collections.abc import Callable
from datetime import timedelta

from axes.handlers.proxy import AxesProxyHandler
from axes.models import AccessAttempt, AccessFailureLog
from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.db.models import Q, QuerySet
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.encoding import force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from accounts import auth_state
from accounts.backends import PASSWORD_MAX_LENGTH
from accounts.client import SYSTEM, RequestMeta, login_identifier
from accounts.errors import (
    NO_SESSION,
    RESET_LINK_INVALID,
    WRONG_CURRENT_PASSWORD,
    AccountLocked,
    CurrentPasswordWrong,
    InvalidCredentials,
    PasswordInvalid,
    TokenNotValid,
    TokenReused,
    TokenRevoked,
)
from accounts.lockout import lockout_retry_after
from accounts.models import RevokeReason, Role, Session, User, username_validator
from accounts.tokens import (
    REMEMBER_ME_CLAIM,
    TokenPair,
    refresh_lifetime,
    refresh_token_decode,
    token_pair_issue,
)
from accounts.validators import PASSWORD_TOO_LONG
from audit.models import Event, Outcome
from audit.services import audit_record
from config.errors import Conflict, Forbidden, NotFound, ServiceError

logger = logging.getLogger("gatehouse.accounts")

USERNAME_TAKEN = "This username is not available."
EMAIL_TAKEN = "An account with this email address already exists."
UNKNOWN_ROLE = "Unknown role."


# --- Users ------------------------------------------------------------------------


def password_check(*, password: str, user: User | None, field: str = "password") -> None:
    """Length first (cheap, and caps the work of the other validators), then Django's validators."""
    if len(password) > PASSWORD_MAX_LENGTH:
        raise PasswordInvalid(errors={field: [PASSWORD_TOO_LONG % {"max_length": PASSWORD_MAX_LENGTH}]})
    try:
        validate_password(password, user)
    except DjangoValidationError as exc:
        raise PasswordInvalid(errors={field: list(exc.messages)}) from None


def _validate_identity(*, username: str, email: str, exclude_pk: int | None = None) -> None:
    errors: dict[str, list[str]] = {}
    try:
        username_validator(username)
    except DjangoValidationError as exc:
        errors["username"] = list(exc.messages)
    try:
        validate_email(email)
    except DjangoValidationError as exc:
        errors["email"] = list(exc.messages)
    others = User.objects.exclude(pk=exclude_pk) if exclude_pk else User.objects.all()
    if "username" not in errors and others.alias(u=Lower("username")).filter(u=username.lower()).exists():
        errors["username"] = [USERNAME_TAKEN]
    if "email" not in errors and others.alias(e=Lower("email")).filter(e=email.lower()).exists():
        errors["email"] = [EMAIL_TAKEN]
    if errors:
        raise ServiceError(errors=errors)


def user_create(
    *,
    username: str,
    email: str,
    password: str | None,
    full_name: str = "",
    role: str = Role.USER,
    meta: RequestMeta = SYSTEM,
    imported: bool = False,
    password_hash: str | None = None,
) -> User:
    """Create an account; `password=None` makes one that cannot log in with a password.

    `imported` marks a user moved in from another system (`manage.py import_users`), with
    `password_hash` a Django-format hash that accounts.user_import has checked: kept as is,
    and upgraded to the preferred hasher at the first login.
    """
    username, email, full_name = username.strip(), email.strip(), full_name.strip()
    if role not in Role.values:
        raise ServiceError(errors={"role": [UNKNOWN_ROLE]})
    _validate_identity(username=username, email=email)
    user = User(username=username, email=email, full_name=full_name, role=role)
    if password_hash is not None:
        user.password = password_hash
    elif password is None:
        user.set_unusable_password()
    else:
        password_check(password=password, user=user)
        user.set_password(password)
    event = Event.USER_REGISTERED if meta.actor_kind == "anonymous" else Event.USER_CREATED
    details = {"role": role, "imported": True} if imported else {"role": role}
    try:
        with transaction.atomic():
            user.save()
            audit_record(event=event, meta=meta, target=user, details=details)
    except IntegrityError:
        # Lost a race with a concurrent registration of the same name or address.
        _validate_identity(username=username, email=email)
        raise
    return user


def user_profile_update(*, user: User, full_name: str, meta: RequestMeta = SYSTEM) -> User:
    """Change what a user may change about themselves: their display name."""
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        before, user.full_name = user.full_name, full_name.strip()
        if before != user.full_name:
            user.save(update_fields=["full_name"])
            auth_state.publish_user_changed(user.pk)
            audit_record(event=Event.USER_UPDATED, meta=meta, target=user, details={"fields": ["full_name"]})
    return user


LAST_ADMIN = "This is the last active admin: make another admin first."
OWN_ROLE = "Nobody can raise their own role."
ROLE_RANK = {Role.GUEST: 0, Role.USER: 1, Role.DEVELOPER: 2, Role.SERVICE_ACCOUNT: 2, Role.ADMIN: 3}


def _keep_an_admin(user: User) -> None:
    """Refuse to take admin power from the last active admin. Locks the admin rows, so two
    admins demoting each other at once cannot both succeed."""
    admins = list(
        User.objects.select_for_update()
        .filter(role=Role.ADMIN, is_active=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if admins == [user.pk]:
        raise Conflict(LAST_ADMIN, errors={"role": [LAST_ADMIN]})


def user_set_role(*, user: User, role: str, meta: RequestMeta = SYSTEM) -> User:
    """Change a user's role; takes effect on their very next request."""
    if role not in Role.values:
        raise ServiceError(errors={"role": [UNKNOWN_ROLE]})
    with transaction.atomic():
        if role != Role.ADMIN:
            _keep_an_admin(user)
        user = User.objects.select_for_update().get(pk=user.pk)
        if meta.actor_id == user.pk and ROLE_RANK[role] > ROLE_RANK[user.role]:
            raise Forbidden(OWN_ROLE)
        if user.role != role:
            before, user.role = user.role, role
            user.save(update_fields=["role"])
            auth_state.publish_user_changed(user.pk)
            audit_record(
                event=Event.USER_ROLE_CHANGED, meta=meta, target=user, details={"from": before, "to": role}
            )
    return user


def user_set_active(*, user: User, is_active: bool, meta: RequestMeta = SYSTEM) -> User:
    """Activate or deactivate; deactivation ends every session at once."""
    with transaction.atomic():
        if not is_active:
            _keep_an_admin(user)
        user = User.objects.select_for_update().get(pk=user.pk)
        revoked = 0
        if not is_active:
            revoked = _revoke_all(user=user, reason=RevokeReason.DEACTIVATED)
        if user.is_active != is_active:
            user.is_active = is_active
            user.save(update_fields=["is_active"])
            auth_state.publish_user_changed(user.pk)
            audit_record(
                event=Event.USER_ACTIVATED if is_active else Event.USER_DEACTIVATED,
                meta=meta,
                target=user,
                details={"sessions_revoked": revoked},
            )
    return user


def user_delete(*, user: User, meta: RequestMeta = SYSTEM) -> None:
    """Delete an account; its sessions die with it, in every process."""
    with transaction.atomic():
        _keep_an_admin(user)
        user = User.objects.select_for_update().get(pk=user.pk)
        revoked = _revoke_all(user=user, reason=RevokeReason.ADMIN)
        auth_state.publish_user_changed(user.pk)
        # Written before the delete; the FK then goes NULL and the username snapshot stays.
        audit_record(
            event=Event.USER_DELETED,
            meta=meta,
            target=user,
            details={"email": user.email, "role": user.role, "sessions_revoked": revoked},
        )
        user.delete()


# --- Login and sessions ------------------------------------------------------------


def _session_start(*, user: User, remember_me: bool, meta: RequestMeta) -> tuple[Session, TokenPair]:
    now = timezone.now()
    session = Session(
        user=user,
        remember_me=remember_me,
        created_at=now,
        last_used_at=now,
        expires_at=now + refresh_lifetime(remember_me=remember_me),
        ip_address=meta.ip_address,
        user_agent=meta.user_agent,
    )
    pair = token_pair_issue(session_id=session.pk, user_id=user.pk, role=user.role, remember_me=remember_me)
    session.refresh_jti = pair.refresh_jti
    session.expires_at = pair.refresh_expires_at
    session.save()
    return session, pair


def login(
    *, request, identifier: str, password: str, remember_me: bool, meta: RequestMeta
) -> tuple[User, TokenPair]:
    """Check a password (axes counts failures), then open a session and issue its first tokens."""
    user = authenticate(request, username=identifier, password=password)
    if user is None:
        _login_failed(request=request, identifier=identifier, meta=meta)
    # A success clears this name's failures from this address (axes' reset-on-success).
    AxesProxyHandler.reset_attempts(
        ip_address=meta.ip_address, username=login_identifier(request, {"username": identifier})
    )
    with transaction.atomic():
        # Under the row lock a password change, reset or deactivation either committed before
        # (then this login is refused) or waits and then revokes the session made here.
        # One UPDATE both checks and locks: it matches only if the hash and status are still
        # the ones just verified, and holds the row until commit.
        user.last_login = timezone.now()
        still_valid = User.objects.filter(pk=user.pk, password=user.password, is_active=True).update(
            last_login=user.last_login
        )
        if not still_valid:
            raise InvalidCredentials()
        session, pair = _session_start(user=user, remember_me=remember_me, meta=meta)
        auth_state.publish_user_changed(user.pk, powers=False)
        audit_record(
            event=Event.LOGIN_SUCCEEDED,
            meta=meta,
            actor=user,
            target=user,
            details={"session_id": str(session.pk), "remember_me": remember_me},
        )
    return user, pair


def user_by_identifier(identifier: str) -> User | None:
    """The account a login name or email address points at, case-insensitively."""
    identifier = identifier.strip().lower()
    field = "email" if "@" in identifier else "username"
    return User.objects.alias(lookup=Lower(field)).filter(lookup=identifier).first()


def _login_failed(*, request, identifier: str, meta: RequestMeta) -> None:
    """Audit a failed login (and a lockout it caused), then raise the client's answer."""
    locked = getattr(request, "axes_locked_out", False)
    failures = getattr(request, "axes_failures_since_start", 0)
    newly_locked = locked and failures == settings.AXES_FAILURE_LIMIT
    target = user_by_identifier(identifier)
    if locked and not newly_locked:
        reason = "account_locked"
    elif target is not None and not target.is_active:
        reason = "inactive"
    else:
        reason = "invalid_credentials"
    label = identifier.strip()[:150]
    with transaction.atomic():
        audit_record(
            event=Event.LOGIN_FAILED,
            meta=meta,
            outcome=Outcome.FAILURE,
            target=target,
            target_label=label,
            details={"reason": reason, "failures": failures},
        )
        if newly_locked:
            audit_record(
                event=Event.LOCKED_OUT,
                meta=meta,
                outcome=Outcome.FAILURE,
                target=target,
                target_label=label,
                details={"failures": failures, "cooloff_minutes": settings.AXES_COOLOFF_MINUTES},
            )
    if locked:
        raise AccountLocked(retry_after=lockout_retry_after(request))
    raise InvalidCredentials()


class _NotSwapped(Exception):
    """The compare-and-swap on the session's current jti matched no row."""


def refresh_token_rotate(*, raw_token: str, meta: RequestMeta) -> tuple[dict | User, TokenPair]:
    """Swap a refresh token for a new pair, once. A second use revokes the whole session.

    Fast path, no read of the session row: one conditional UPDATE swaps the session's current
    jti only if the presented token is that jti, the session is live and belongs to `sub`.
    Only when it matches nothing does the slower path find out why.
    """
    claims = refresh_token_decode(raw_token)
    session_id, jti, subject = str(claims["sid"]), str(claims["jti"]), str(claims["sub"])
    if not auth_state.is_uuid(session_id) or not auth_state.is_id(subject):
        raise TokenNotValid()
    user = auth_state.user_snapshot_get(user_id=int(subject))
    if user is None:
        raise TokenNotValid()
    if not user.is_active:
        raise TokenRevoked()
    try:
        with transaction.atomic():
            now = timezone.now()
            pair = token_pair_issue(
                session_id=session_id,
                user_id=user.pk,
                role=user.role,
                remember_me=bool(claims.get(REMEMBER_ME_CLAIM)),
            )
            swapped = Session.objects.filter(
                pk=session_id, user_id=user.pk, refresh_jti=jti, revoked_at__isnull=True, expires_at__gt=now
            ).update(refresh_jti=pair.refresh_jti, last_used_at=now, expires_at=pair.refresh_expires_at)
            if swapped != 1:
                raise _NotSwapped()
            _blacklist(jtis=[jti])
            audit_record(
                event=Event.TOKEN_REFRESHED,
                meta=meta,
                actor=user,
                target=user,
                details={"session_id": session_id},
            )
        return auth_state.user_for_output(user), pair
    except _NotSwapped:
        pass
    return _refresh_refused(session_id=session_id, jti=jti, subject=subject, meta=meta)


def _refresh_refused(*, session_id: str, jti: str, subject: str, meta: RequestMeta):
    """Why a refresh matched no session: unknown, revoked/expired, or reuse (which revokes)."""
    with transaction.atomic():
        session = (
            Session.objects.select_related("user")
            .select_for_update(of=("self",))
            .filter(pk=session_id)
            .first()
        )
        if session is None or str(session.user_id) != subject:
            raise TokenNotValid()
        if session.refresh_jti == jti:
            raise TokenRevoked()  # the current token, but the session ended or expired
        revoked = _sessions_revoke([session], reason=RevokeReason.TOKEN_REUSE)
        audit_record(
            event=Event.TOKEN_REUSED,
            meta=meta,
            outcome=Outcome.FAILURE,
            target=session.user,
            details={"session_id": session_id, "session_revoked": bool(revoked)},
        )
    logger.warning("refresh token reuse detected; session %s revoked", session_id)
    raise TokenReused()


def _blacklist(*, jtis: list[str]) -> None:
    """Blacklist the recorded refresh tokens with these jtis: one INSERT ... SELECT."""
    if not jtis:
        return
    blacklist, outstanding = BlacklistedToken._meta.db_table, OutstandingToken._meta.db_table
    placeholders = ", ".join(["%s"] * len(jtis))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {blacklist} (token_id, blacklisted_at) "  # noqa: S608 (table names, not input)
            f"SELECT id, %s FROM {outstanding} WHERE jti IN ({placeholders}) "
            "ON CONFLICT (token_id) DO NOTHING",
            [timezone.now(), *jtis],
        )


def _sessions_revoke(sessions: list[Session], *, reason: str) -> int:
    """Mark live sessions revoked, blacklist their refresh tokens and tell every process."""
    live = [s for s in sessions if s.revoked_at is None]
    if not live:
        return 0
    now = timezone.now()
    Session.objects.filter(pk__in=[s.pk for s in live], revoked_at__isnull=True).update(
        revoked_at=now, revoked_reason=reason
    )
    _blacklist(jtis=[s.refresh_jti for s in live])
    for session in live:
        session.revoked_at, session.revoked_reason = now, reason
    auth_state.publish_sessions_revoked(live)
    return len(live)


def session_revoke(
    *, user: User, session_id, reason: str = RevokeReason.USER, meta: RequestMeta = SYSTEM
) -> None:
    """Revoke one of the user's sessions; another user's session is NotFound."""
    if not auth_state.is_uuid(str(session_id)):
        raise NotFound()
    with transaction.atomic():
        session = Session.objects.select_for_update().filter(pk=session_id, user_id=user.pk).first()
        if session is None:
            raise NotFound()
        revoked = _sessions_revoke([session], reason=reason)
        audit_record(
            event=Event.LOGOUT if reason == RevokeReason.LOGOUT else Event.SESSION_REVOKED,
            meta=meta,
            target=user,
            details={"session_id": str(session.pk), "reason": reason, "was_live": bool(revoked)},
        )


def _revoke_all(*, user: User, reason: str) -> int:
    sessions = Session.objects.select_for_update().filter(user_id=user.pk, revoked_at__isnull=True)
    return _sessions_revoke(list(sessions), reason=reason)


def session_revoke_all(*, user: User, reason: str, meta: RequestMeta = SYSTEM) -> int:
    """Revoke every live session of the user; returns how many."""
    with transaction.atomic():
        revoked = _revoke_all(user=user, reason=reason)
        audit_record(
            event=Event.LOGOUT if reason == RevokeReason.LOGOUT_ALL else Event.SESSION_REVOKED,
            meta=meta,
            target=user,
            details={"scope": "all", "reason": reason, "sessions_revoked": revoked},
        )
    return revoked


def logout(*, user: User, session_id: str | None, raw_refresh: str | None, meta: RequestMeta) -> None:
    """End the caller's current session (from the access token, else the refresh token given)."""
    if session_id is None and raw_refresh:
        try:
            claims = refresh_token_decode(raw_refresh)
        except TokenNotValid:
            raise ServiceError(errors={"refresh_token": ["This refresh token is not valid."]}) from None
        session_id = str(claims["sid"])
    if session_id is None:
        raise ServiceError(NO_SESSION, errors={"refresh_token": [NO_SESSION]})
    session_revoke(user=user, session_id=session_id, reason=RevokeReason.LOGOUT, meta=meta)


def mail_send_later(*, subject: str, body: str, to: str) -> None:
    """Send off the request thread (EMAIL_SEND_ASYNC), so an SMTP round trip never tells a
    client whether the address it gave has an account."""

    def send() -> None:
        try:
            send_mail(subject, body, None, [to])
        except Exception:
            logger.exception("could not send mail %r", subject)

    if settings.EMAIL_SEND_ASYNC:
        threading.Thread(target=send, name="gatehouse-mail", daemon=True).start()
    else:
        send()


# --- Passwords -----------------------------------------------------------------------


def password_change(
    *, user: User, current_password: str, new_password: str, meta: RequestMeta
) -> tuple[User, TokenPair]:
    """Change a known password: every session ends and a fresh one starts for this client."""
    user = User.objects.get(pk=user.pk)
    if len(current_password) > PASSWORD_MAX_LENGTH or not user.check_password(current_password):
        raise CurrentPasswordWrong(errors={"current_password": [WRONG_CURRENT_PASSWORD]})
    password_check(password=new_password, user=user, field="new_password")
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        if locked.password != user.password:  # changed meanwhile by another request
            raise CurrentPasswordWrong(errors={"current_password": [WRONG_CURRENT_PASSWORD]})
        user.set_password(new_password)
        user.save(update_fields=["password"])
        revoked = _revoke_all(user=user, reason=RevokeReason.PASSWORD_CHANGE)
        session, pair = _session_start(user=user, remember_me=False, meta=meta)
        audit_record(
            event=Event.PASSWORD_CHANGED,
            meta=meta,
            target=user,
            details={"sessions_revoked": revoked, "new_session_id": str(session.pk)},
        )
    return user, pair


def password_reset_request(*, email: str, reset_url: Callable[[str, str], str], meta: RequestMeta) -> None:
    """Mail a reset link if an active account has this address; say nothing either way."""
    user = User.objects.alias(e=Lower("email")).filter(e=email.strip().lower(), is_active=True).first()
    sendable = user is not None and user.has_usable_password()
    audit_record(
        event=Event.PASSWORD_RESET_REQUESTED,
        meta=meta,
        target=user,
        target_label=email.strip()[:200],
        details={"mail_sent": sendable},
    )
    if not sendable:
        return
    uidb64 = urlsafe_base64_encode(str(user.pk).encode())
    token = default_token_generator.make_token(user)
    link = reset_url(uidb64, token)
    body = (
        f"Someone asked to reset the password of the Gatehouse account {user.username}.\n\n"
        f"To choose a new password, open this link within an hour:\n{link}\n\n"
        "If it was not you, ignore this message: your password has not changed.\n"
    )
    transaction.on_commit(
        lambda: mail_send_later(subject="Reset your Gatehouse password", body=body, to=user.email)
    )


def password_reset_user(*, uidb64: str, token: str) -> User | None:
    """The user a reset link is for, if the link is still good."""
    try:
        pk = int(force_str(urlsafe_base64_decode(uidb64)))
    except (TypeError, ValueError, OverflowError, UnicodeDecodeError):
        return None
    user = User.objects.filter(pk=pk, is_active=True).first()
    if user is None or not default_token_generator.check_token(user, token):
        return None
    return user


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
        # The row lock orders this against a login in flight (see login) and against a second
        # use of the same reset link: the token is checked again under the lock.
        user = User.objects.select_for_update().get(pk=user.pk)
        if reset_token is not None and not default_token_generator.check_token(user, reset_token):
            raise ServiceError(RESET_LINK_INVALID, errors={"token": [RESET_LINK_INVALID]})
        user.set_password(new_password)
        user.save(update_fields=["password"])
        revoked = _revoke_all(user=user, reason=reason)
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


# --- Lockouts ---------------------------------------------------------------------------


def lockout_clear(*, user: User | None = None, everyone: bool = False, meta: RequestMeta = SYSTEM) -> int:
    """Clear failed-login records of one user (by username and email) or of everyone."""
    if user is None and not everyone:
        raise ValueError("say whose lockout to clear")
    with transaction.atomic():
        attempts = AccessAttempt.objects.all()
        if not everyone:
            attempts = attempts.filter(username__in=[user.username.lower(), user.email.lower()])
        cleared, _ = attempts.delete()
        audit_record(
            event=Event.UNLOCKED,
            meta=meta,
            target=user,
            target_label="" if user else "*",
            details={"records_cleared": cleared, "scope": "all" if everyone else "user"},
        )
    return cleared


def user_admin_update(
    *,
    user: User,
    role: str | None = None,
    is_active: bool | None = None,
    full_name: str | None = None,
    meta: RequestMeta = SYSTEM,
) -> User:
    """Staff edit of a user (admin API and Django admin): each change through its own rule."""
    with transaction.atomic():
        if full_name is not None:
            user = user_profile_update(user=user, full_name=full_name, meta=meta)
        if role is not None:
            user = user_set_role(user=user, role=role, meta=meta)
        if is_active is not None:
            user = user_set_active(user=user, is_active=is_active, meta=meta)
    return User.objects.get(pk=user.pk)


# --- Housekeeping -------------------------------------------------------------------------

SESSION_RETENTION = timedelta(days=7)
ATTEMPT_LOG_RETENTION = timedelta(days=30)


def _cleanup_targets(now) -> dict[str, QuerySet]:
    from apikeys.models import APIKey

    cooloff_start = now - settings.AXES_COOLOFF_TIME
    return {
        "tokens": OutstandingToken.objects.filter(expires_at__lt=now),
        "sessions": Session.objects.filter(Q(expires_at__lt=now) | Q(revoked_at__lt=now - SESSION_RETENTION)),
        "api_keys": APIKey.objects.filter(expires_at__lt=now),
        "attempts": AccessAttempt.objects.filter(attempt_time__lt=cooloff_start),
        "failure_logs": AccessFailureLog.objects.filter(attempt_time__lt=now - ATTEMPT_LOG_RETENTION),
    }


def auth_cleanup(
    *,
    dry_run: bool = False,
    batch_size: int = 5000,
    progress: Callable[[str, int], None] | None = None,
    meta: RequestMeta = SYSTEM,
) -> dict[str, int]:
    """Delete expired refresh-token records (and their blacklist rows), ended sessions,
    expired API keys and old failed-login records, in batches of short transactions so no
    statement holds locks for long. Returns counts per kind (what would go, with dry_run)."""
    now = timezone.now()
    counts: dict[str, int] = {}
    for name, queryset in _cleanup_targets(now).items():
        if dry_run:
            counts[name] = queryset.count()
            continue
        deleted = 0
        while True:
            ids = list(queryset.order_by().values_list("pk", flat=True)[:batch_size])
            if not ids:
                break
            with transaction.atomic():
                # Only the rows of this batch: by primary key, no long range scan under lock.
                queryset.model.objects.filter(pk__in=ids).delete()
            deleted += len(ids)
            if progress:
                progress(name, deleted)
        counts[name] = deleted
    if not dry_run:
        audit_record(event=Event.CLEANUP_RAN, meta=meta, details=counts)
    return counts
