"""Accounts: create, edit, change role or status, delete."""

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models.functions import Lower

from accounts import auth_state, hooks
from accounts.emails import email_lookup_key, email_normalize
from accounts.errors import PasswordInvalid
from accounts.models import RevokeReason, User, username_validator
from accounts.roles import Role, outranks
from accounts.services.history import password_history_record
from accounts.services.mfa import mfa_disable_locked
from accounts.services.sessions import sessions_revoke_all_locked
from accounts.validators import password_too_long, password_too_long_message
from audit.models import Event
from audit.services import audit_record
from core.errors import Conflict, Forbidden, ServiceError
from core.request import SYSTEM, ActorKind, RequestMeta

USERNAME_TAKEN = "This username is not available."
EMAIL_TAKEN = "An account with this email address already exists."
UNKNOWN_ROLE = "Unknown role."
LAST_ADMIN = "This is the last active admin: make another admin first."
OWN_ROLE = "Nobody can raise their own role."


def password_check(*, password: str, user: User | None, field: str = "password") -> None:
    """Length first (cheap, and caps the work of the other validators), then Django's validators."""
    if password_too_long(password):
        raise PasswordInvalid(errors={field: [password_too_long_message()]})
    try:
        validate_password(password, user)
    except DjangoValidationError as exc:
        raise PasswordInvalid(errors={field: list(exc.messages)}) from None


def username_check(*, username: str) -> None:
    """A valid username nobody has (registration says so even when it hides emails)."""
    try:
        username_validator(username)
    except DjangoValidationError as exc:
        raise ServiceError(errors={"username": list(exc.messages)}) from None
    if User.objects.alias(u=Lower("username")).filter(u=username.lower()).exists():
        raise ServiceError(errors={"username": [USERNAME_TAKEN]})


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
    if "email" not in errors and others.alias(e=Lower("email")).filter(e=email_lookup_key(email)).exists():
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
    username, email, full_name = username.strip(), email_normalize(email), full_name.strip()
    if role not in Role.values:
        raise ServiceError(errors={"role": [UNKNOWN_ROLE]})
    _validate_identity(username=username, email=email)
    # Staff and operators vouch for the addresses they enter; a registration must prove it.
    verified = meta.actor_kind != ActorKind.ANONYMOUS
    user = User(username=username, email=email, full_name=full_name, role=role, email_verified=verified)
    if password_hash is not None:
        user.password = password_hash
    elif password is None:
        user.set_unusable_password()
    else:
        password_check(password=password, user=user)
        user.set_password(password)
    event = Event.USER_REGISTERED if meta.actor_kind == ActorKind.ANONYMOUS else Event.USER_CREATED
    details = {"role": role, "imported": True} if imported else {"role": role}
    try:
        with transaction.atomic():
            user.save()
            password_history_record(user=user)
            audit_record(event=event, meta=meta, target=user, details=details)
    except IntegrityError:
        # Lost a race with a concurrent registration of the same name or address.
        _validate_identity(username=username, email=email)
        raise
    return user


def user_profile_update(*, user_id: int, full_name: str, meta: RequestMeta = SYSTEM) -> User:
    """Change what a user may change about themselves: their display name."""
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user_id)
        before, user.full_name = user.full_name, full_name.strip()
        if before != user.full_name:
            user.save(update_fields=["full_name"])
            auth_state.publish_user_changed(user.pk)
            audit_record(event=Event.USER_UPDATED, meta=meta, target=user, details={"fields": ["full_name"]})
    return user


def _keep_an_admin(user_id: int) -> None:
    """Refuse to take admin power from the last active admin. Locks the admin rows, so two
    admins demoting each other at once cannot both succeed."""
    admins = list(
        User.objects.select_for_update()
        .filter(role=Role.ADMIN, is_active=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if admins == [user_id]:
        raise Conflict(LAST_ADMIN, errors={"role": [LAST_ADMIN]})


def user_set_role(*, user_id: int, role: str, meta: RequestMeta = SYSTEM) -> User:
    """Change a user's role; takes effect on their very next request."""
    if role not in Role.values:
        raise ServiceError(errors={"role": [UNKNOWN_ROLE]})
    with transaction.atomic():
        if role != Role.ADMIN:
            _keep_an_admin(user_id)
        user = User.objects.select_for_update().get(pk=user_id)
        if meta.actor_id == user.pk and outranks(role, user.role):
            raise Forbidden(OWN_ROLE)
        if user.role != role:
            before, user.role = user.role, role
            user.save(update_fields=["role"])
            auth_state.publish_user_changed(user.pk)
            audit_record(
                event=Event.USER_ROLE_CHANGED, meta=meta, target=user, details={"from": before, "to": role}
            )
    return user


def user_set_active(*, user_id: int, is_active: bool, meta: RequestMeta = SYSTEM) -> User:
    """Activate or deactivate; deactivation ends every session at once."""
    with transaction.atomic():
        if not is_active:
            _keep_an_admin(user_id)
        user = User.objects.select_for_update().get(pk=user_id)
        revoked = 0
        if not is_active:
            revoked = sessions_revoke_all_locked(user_id=user.pk, reason=RevokeReason.DEACTIVATED)
            hooks.user_credentials_revoked_publish(user.pk, RevokeReason.DEACTIVATED, meta)
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


def user_delete(*, user_id: int, meta: RequestMeta = SYSTEM) -> None:
    """Delete an account; its sessions die with it, in every process."""
    with transaction.atomic():
        _keep_an_admin(user_id)
        user = User.objects.select_for_update().get(pk=user_id)
        revoked = sessions_revoke_all_locked(user_id=user.pk, reason=RevokeReason.DELETED)
        hooks.user_credentials_revoked_publish(user.pk, RevokeReason.DELETED, meta)
        auth_state.publish_user_changed(user.pk)
        # Written before the delete; the FK then goes NULL and the username snapshot stays.
        audit_record(
            event=Event.USER_DELETED,
            meta=meta,
            target=user,
            details={"email": user.email, "role": user.role, "sessions_revoked": revoked},
        )
        user.delete()


def user_admin_update(
    *,
    user_id: int,
    role: str | None = None,
    is_active: bool | None = None,
    full_name: str | None = None,
    meta: RequestMeta = SYSTEM,
) -> User:
    """Staff edit of a user (admin API and Django admin): each change through its own rule."""
    with transaction.atomic():
        if full_name is not None:
            user_profile_update(user_id=user_id, full_name=full_name, meta=meta)
        if role is not None:
            user_set_role(user_id=user_id, role=role, meta=meta)
        if is_active is not None:
            user_set_active(user_id=user_id, is_active=is_active, meta=meta)
    return User.objects.get(pk=user_id)


def user_mfa_reset(*, user_id: int, meta: RequestMeta = SYSTEM) -> int:
    """An operator's answer to a lost device: every factor removed, every session revoked
    (sessions that proved the old device must not outlive it). Returns sessions revoked."""
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user_id)
        was_enabled = user.mfa_enabled
        mfa_disable_locked(user=user)
        revoked = sessions_revoke_all_locked(user_id=user.pk, reason=RevokeReason.ADMIN)
        audit_record(
            event=Event.MFA_RESET,
            meta=meta,
            target=user,
            details={"was_enabled": was_enabled, "sessions_revoked": revoked},
        )
    return revoked
