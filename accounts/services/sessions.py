"""Sessions: login, refresh-token rotation, logout and revocation."""

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NoReturn

from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.signals import user_login_failed
from django.db import connection, transaction
from django.db.models import Exists
from django.http import HttpRequest
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from accounts import auth_state
from accounts.cookie_sessions import cookie_sessions_end_for_user
from accounts.errors import (
    MFA_TOKEN_INVALID,
    NO_SESSION,
    REFRESH_TOKEN_INVALID,
    AccountLocked,
    EmailNotVerified,
    InvalidCredentials,
    MfaInvalid,
    SessionExpired,
    TokenExpired,
    TokenNotValid,
    TokenReused,
    TokenRevoked,
)
from accounts.lockout import lockout_retry_after, login_identifier
from accounts.models import RevokeReason, Session, User
from accounts.principal import Principal
from accounts.selectors import session_owned
from accounts.services.lockouts import known_address_record, login_failure_record
from accounts.services.mfa import (
    METHODS,
    mfa_challenge_locked,
    mfa_challenge_start,
    mfa_challenge_usable,
    mfa_code_verify,
)
from accounts.tokens import (
    ABSOLUTE_EXPIRY_CLAIM,
    AMR_PASSWORD,
    AMR_PASSWORD_OTP,
    REMEMBER_ME_CLAIM,
    TokenPair,
    absolute_lifetime,
    amr_of,
    expired_refresh_token_claims,
    refresh_lifetime,
    refresh_token_decode,
    token_pair_issue,
)
from audit.models import Event, Outcome
from audit.services import audit_record
from core.errors import NotFound, ServiceError
from core.ids import is_id, is_uuid
from core.request import SYSTEM, RequestMeta, ip_bucket

logger = logging.getLogger("gatehouse.accounts")


@dataclass(frozen=True)
class MfaPending:
    """A right password for an enrolled user: no session yet, a code is owed."""

    mfa_token: str
    methods: tuple[str, ...] = METHODS


def session_start(
    *, user: User, remember_me: bool, meta: RequestMeta, amr: tuple[str, ...] = AMR_PASSWORD
) -> tuple[Session, TokenPair]:
    """Open a session for a user whose credentials were just checked, in the caller's transaction."""
    now = timezone.now()
    session = Session(
        user=user,
        remember_me=remember_me,
        created_at=now,
        last_used_at=now,
        expires_at=now + refresh_lifetime(remember_me=remember_me),
        absolute_expires_at=now + absolute_lifetime(remember_me=remember_me),
        ip_address=meta.ip_address,
        user_agent=meta.user_agent,
        amr=" ".join(amr),
    )
    pair = token_pair_issue(
        session_id=session.pk,
        user_id=user.pk,
        role=user.role,
        remember_me=remember_me,
        absolute_expires_at=session.absolute_expires_at,
        amr=amr,
    )
    session.refresh_jti = pair.refresh_jti
    session.expires_at = pair.refresh_expires_at
    session.save()
    return session, pair


def session_login(
    *, request: HttpRequest, identifier: str, password: str, remember_me: bool, meta: RequestMeta
) -> tuple[User, TokenPair | MfaPending]:
    """Check a password (axes counts failures), then open a session and issue its first tokens,
    or, for a user enrolled in MFA, hand out the challenge that a code completes."""
    user = authenticate(request, username=identifier, password=password)
    if not isinstance(user, User):
        _login_failed(request=request, identifier=identifier, meta=meta)
    if settings.EMAIL_VERIFICATION == "mandatory" and not user.email_verified:
        raise EmailNotVerified()
    if user.mfa_enabled:
        # No reset of the failure count yet: a password alone must not buy fresh code guesses.
        return user, MfaPending(mfa_token=mfa_challenge_start(user=user, remember_me=remember_me))
    _lockout_reset(request=request, identifier=identifier, meta=meta)
    with transaction.atomic():
        pair = _session_open(user=user, remember_me=remember_me, meta=meta, amr=AMR_PASSWORD)
    return user, pair


def _lockout_reset(*, request: HttpRequest, identifier: str, meta: RequestMeta) -> None:
    """A success clears this name's failures from this address (axes' reset-on-success),
    counted as axes counts addresses (IPv6 per prefix)."""
    AxesProxyHandler.reset_attempts(
        ip_address=ip_bucket(meta.ip_address), username=login_identifier(request, {"username": identifier})
    )


def _session_open(
    *, user: User, remember_me: bool, meta: RequestMeta, amr: tuple[str, ...], details: dict | None = None
) -> TokenPair:
    """The session of a verified login, in the caller's transaction.

    Under the row lock a password change, reset or deactivation either committed before
    (then this login is refused) or waits and then revokes the session made here.
    One UPDATE both checks and locks: it matches only if the hash and status are still
    the ones just verified, and holds the row until commit.
    """
    user.last_login = timezone.now()
    still_valid = User.objects.filter(pk=user.pk, password=user.password, is_active=True).update(
        last_login=user.last_login
    )
    if not still_valid:
        raise InvalidCredentials()
    session, pair = session_start(user=user, remember_me=remember_me, meta=meta, amr=amr)
    known_address_record(user=user, ip_address=meta.ip_address)
    auth_state.publish_user_changed(user.pk, powers=False)
    audit_record(
        event=Event.LOGIN_SUCCEEDED,
        meta=meta,
        actor=user,
        target=user,
        details={
            "session_id": str(session.pk),
            "remember_me": remember_me,
            "amr": list(amr),
            **(details or {}),
        },
    )
    return pair


def mfa_login_complete(
    *, request: HttpRequest, mfa_token: str, code: str, meta: RequestMeta
) -> tuple[User, TokenPair]:
    """The second step: a TOTP code or a recovery code for the challenge a password left.

    The challenge row is locked, so its attempt count is exact across processes; it dies on
    success, after MFA_MAX_ATTEMPTS wrong codes, or after MFA_TOKEN_LIFETIME_SECONDS. Wrong
    codes are audited and count toward the axes lockout of that username and address.
    """
    failed: User | None = None
    with transaction.atomic():
        challenge = mfa_challenge_locked(mfa_token)
        if challenge is None or not mfa_challenge_usable(challenge):
            raise MfaInvalid(MFA_TOKEN_INVALID)
        user = challenge.user
        credentials = {"username": user.username}
        if AxesProxyHandler.is_locked(request, credentials):
            raise AccountLocked(retry_after=lockout_retry_after(request))
        method = mfa_code_verify(user=user, code=code)
        if method is None:
            challenge.attempts += 1
            challenge.save(update_fields=["attempts"])
            audit_record(
                event=Event.MFA_FAILED,
                meta=meta,
                outcome=Outcome.FAILURE,
                target=user,
                details={
                    "attempts": challenge.attempts,
                    "challenge_dead": not mfa_challenge_usable(challenge),
                },
            )
            failed = user
        else:
            challenge.used_at = timezone.now()
            challenge.save(update_fields=["used_at"])
            pair = _session_open(
                user=user,
                remember_me=challenge.remember_me,
                meta=meta,
                amr=AMR_PASSWORD_OTP,
                details={"mfa_method": method},
            )
    if failed is not None:
        # axes' own signal handler records the failure for this username and address.
        user_login_failed.send(sender=__name__, credentials={"username": failed.username}, request=request)
        raise MfaInvalid()
    _lockout_reset(request=request, identifier=user.username, meta=meta)
    return user, pair


def _login_failed(*, request: HttpRequest, identifier: str, meta: RequestMeta) -> NoReturn:
    """Audit a failed login (and a lockout it caused), then raise the client's answer."""
    failure = login_failure_record(request=request, identifier=identifier, meta=meta)
    if failure.locked:
        raise AccountLocked(retry_after=lockout_retry_after(request))
    raise InvalidCredentials()


class _NotSwapped(Exception):
    """The compare-and-swap on the session's current jti matched no row."""


def refresh_token_rotate(*, raw_token: str, meta: RequestMeta) -> tuple[Principal, TokenPair]:
    """Swap a refresh token for a new pair, once. A second use revokes the whole session.

    Fast path, no read of the session row: one conditional UPDATE swaps the session's current
    jti only if the presented token is that jti, the session is live (absolute deadline
    included) and belongs to `sub`, and staff have not blacklisted the token (an indexed NOT
    EXISTS in the same statement). Only when it matches nothing does the slower path find out why.
    """
    try:
        claims = refresh_token_decode(raw_token)
    except TokenExpired:
        _refresh_expired(raw_token)
    session_id, jti, subject = str(claims["sid"]), str(claims["jti"]), str(claims["sub"])
    if not is_uuid(session_id) or not is_id(subject):
        raise TokenNotValid()
    user = auth_state.principal_get_by_id(user_id=int(subject))
    if user is None:
        raise TokenNotValid()
    if not user.is_active:
        raise TokenRevoked()
    try:
        with transaction.atomic():
            now = timezone.now()
            absolute = _absolute_deadline(claims, session_id)
            if absolute is None or absolute <= now:
                raise _NotSwapped()
            pair = token_pair_issue(
                session_id=session_id,
                user_id=user.pk,
                role=user.role,
                remember_me=bool(claims.get(REMEMBER_ME_CLAIM)),
                absolute_expires_at=absolute,
                amr=amr_of(claims),
                record=False,
            )
            if not _rotation_swap(session_id=session_id, user_id=user.pk, jti=jti, pair=pair, now=now):
                raise _NotSwapped()
            audit_record(
                event=Event.TOKEN_REFRESHED,
                meta=meta,
                actor=user,
                target=user,
                details={"session_id": session_id},
            )
        return user, pair
    except _NotSwapped:
        pass
    _refresh_refused(session_id=session_id, jti=jti, subject=subject, meta=meta)


def _rotation_swap(*, session_id: str, user_id: int, jti: str, pair: TokenPair, now: datetime) -> bool:
    """Rotation's writes, all or none: swap the session's current jti to the new token's only
    if the presented token is that jti, the session is live (absolute deadline included) and
    belongs to the user (compared as an expression, so the session is found by its primary key:
    see selectors.session_owned), and staff have not blacklisted the token; then record the new refresh
    token and blacklist the old. Whether the swap happened.

    On PostgreSQL one statement (data-modifying CTEs: the records are written only when the
    swap matched); elsewhere (SQLite for a first try) the same three writes one by one, the
    caller's transaction rolling back the record when the swap matched nothing. A concurrent
    rotation of the same token waits on the session row, then finds the jti changed: no swap.
    """
    record = pair.refresh_record
    if not _rotation_in_one_statement():
        return _rotation_swap_portable(session_id=session_id, user_id=user_id, jti=jti, pair=pair, now=now)
    session, outstanding, blacklist = (
        Session._meta.db_table,
        OutstandingToken._meta.db_table,
        BlacklistedToken._meta.db_table,
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH swapped AS (
                UPDATE {session} SET refresh_jti = %(new)s, last_used_at = %(now)s, expires_at = %(exp)s
                WHERE id = %(sid)s AND user_id + 0 = %(uid)s AND refresh_jti = %(old)s
                  AND revoked_at IS NULL AND expires_at > %(now)s AND absolute_expires_at > %(now)s
                  AND NOT EXISTS (
                      SELECT 1 FROM {blacklist} b JOIN {outstanding} o ON o.id = b.token_id
                      WHERE o.jti = %(old)s
                  )
                RETURNING id
            ), recorded AS (
                INSERT INTO {outstanding} (user_id, jti, token, created_at, expires_at)
                SELECT %(uid)s, %(new)s, %(digest)s, %(created)s, %(exp)s FROM swapped
            ), blacklisted AS (
                INSERT INTO {blacklist} (token_id, blacklisted_at)
                SELECT o.id, %(now)s FROM {outstanding} o, swapped WHERE o.jti = %(old)s
                ON CONFLICT (token_id) DO NOTHING
            )
            SELECT count(*) FROM swapped
            """,  # noqa: S608 (table names, not input)
            {
                "sid": session_id,
                "uid": user_id,
                "old": jti,
                "new": pair.refresh_jti,
                "now": now,
                "exp": pair.refresh_expires_at,
                "digest": record["token"],
                "created": record["created_at"],
            },
        )
        (swapped,) = cursor.fetchone()
    return swapped == 1


def _rotation_in_one_statement() -> bool:
    return connection.vendor == "postgresql"


def _rotation_swap_portable(
    *, session_id: str, user_id: int, jti: str, pair: TokenPair, now: datetime
) -> bool:
    OutstandingToken.objects.create(**pair.refresh_record)
    blacklisted = BlacklistedToken.objects.filter(token__jti=jti)
    swapped = (
        session_owned(session_id=session_id, user_id=user_id)
        .filter(
            refresh_jti=jti,
            revoked_at__isnull=True,
            expires_at__gt=now,
            absolute_expires_at__gt=now,
        )
        .filter(~Exists(blacklisted))
        .update(refresh_jti=pair.refresh_jti, last_used_at=now, expires_at=pair.refresh_expires_at)
    )
    if swapped != 1:
        return False
    _blacklist(jtis=[jti])
    return True


def _absolute_deadline(claims: Any, session_id: str) -> datetime | None:
    """The session's absolute deadline: from the token (signed), else (tokens issued before
    the claim existed) from the row."""
    claimed = claims.get(ABSOLUTE_EXPIRY_CLAIM)
    if isinstance(claimed, int):
        return datetime.fromtimestamp(claimed, tz=UTC)
    return Session.objects.filter(pk=session_id).values_list("absolute_expires_at", flat=True).first()


def _refresh_expired(raw_token: str) -> NoReturn:
    """An expired refresh token: `session_expired` when its session reached its absolute
    lifetime (the token's exp is capped there), else plain `token_expired`."""
    claims = expired_refresh_token_claims(raw_token)
    session_id = str(claims.get("sid")) if claims else ""
    if is_uuid(session_id):
        session = Session.objects.filter(pk=session_id).only("absolute_expires_at").first()
        if session is not None and session.absolute_expires_at <= timezone.now():
            raise SessionExpired()
    raise TokenExpired()


def _refresh_refused(*, session_id: str, jti: str, subject: str, meta: RequestMeta) -> NoReturn:
    """Why a refresh matched no session: unknown, ended, past its absolute lifetime, blacklisted
    by staff (which ends the session), or reuse (which revokes)."""
    with transaction.atomic():
        session = (
            Session.objects.select_related("user")
            .select_for_update(of=("self",))
            .filter(pk=session_id)
            .first()
        )
        if session is None or str(session.user_id) != subject:
            raise TokenNotValid()
        if session.revoked_at is None and session.absolute_expires_at <= timezone.now():
            raise SessionExpired()
        if session.refresh_jti == jti:
            if session.revoked_at is not None or not BlacklistedToken.objects.filter(token__jti=jti).exists():
                raise TokenRevoked()  # the current token, but the session ended or expired
            # Blacklisted through simplejwt's own models (its admin, its API): end the session.
            _session_revoke_audited(session, reason=RevokeReason.BLACKLISTED, meta=meta)
            blacklisted = True
        else:
            blacklisted = False
            revoked = _sessions_revoke([session], reason=RevokeReason.TOKEN_REUSE)
            audit_record(
                event=Event.TOKEN_REUSED,
                meta=meta,
                outcome=Outcome.FAILURE,
                target=session.user,
                details={"session_id": session_id, "session_revoked": bool(revoked)},
            )
    if blacklisted:
        raise TokenRevoked()
    logger.warning("refresh token reuse detected; session %s revoked", session_id)
    raise TokenReused()


def _session_revoke_audited(session: Session, *, reason: str, meta: RequestMeta) -> int:
    revoked = _sessions_revoke([session], reason=reason)
    audit_record(
        event=Event.SESSION_REVOKED,
        meta=meta,
        target=session.user,
        details={"session_id": str(session.pk), "reason": reason, "was_live": bool(revoked)},
    )
    return revoked


def session_end_for_blacklisted_token(*, outstanding_token_id: int, meta: RequestMeta = SYSTEM) -> None:
    """Staff blacklisted a refresh token (simplejwt's admin): blacklist it and end the session
    it belongs to now, so its access tokens fail at once, not only at the next refresh."""
    with transaction.atomic():
        token = OutstandingToken.objects.select_for_update().filter(pk=outstanding_token_id).first()
        if token is None:
            raise NotFound()
        BlacklistedToken.objects.get_or_create(token=token)
        # Only the session whose current refresh token this is (an older, already rotated
        # token is blacklisted anyway); found through the user's index.
        session = (
            Session.objects.select_related("user")
            .select_for_update(of=("self",))
            .filter(user_id=token.user_id, refresh_jti=token.jti)
            .first()
            if token.user_id is not None
            else None
        )
        if session is not None and session.revoked_at is None:
            _session_revoke_audited(session, reason=RevokeReason.BLACKLISTED, meta=meta)


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


def sessions_revoke_all_locked(*, user_id: int, reason: str) -> int:
    """Revoke every live session of a user, inside the caller's transaction (which audits),
    and end their Django admin (cookie) sessions too."""
    sessions = Session.objects.select_for_update().filter(user_id=user_id, revoked_at__isnull=True)
    cookie_sessions_end_for_user(user_id)
    return _sessions_revoke(list(sessions), reason=reason)


def session_revoke(
    *,
    user: User | Principal,
    session_id: uuid.UUID | str,
    reason: str = RevokeReason.USER,
    meta: RequestMeta = SYSTEM,
) -> None:
    """Revoke one of the user's sessions; another user's session is NotFound."""
    if not is_uuid(str(session_id)):
        raise NotFound()
    with transaction.atomic():
        session = session_owned(session_id=session_id, user_id=user.pk).select_for_update().first()
        if session is None:
            raise NotFound()
        revoked = _sessions_revoke([session], reason=reason)
        audit_record(
            event=Event.LOGOUT if reason == RevokeReason.LOGOUT else Event.SESSION_REVOKED,
            meta=meta,
            target=user,
            details={"session_id": str(session.pk), "reason": reason, "was_live": bool(revoked)},
        )


def session_revoke_all(*, user: User | Principal, reason: str, meta: RequestMeta = SYSTEM) -> int:
    """Revoke every live session of the user; returns how many."""
    with transaction.atomic():
        revoked = sessions_revoke_all_locked(user_id=user.pk, reason=reason)
        audit_record(
            event=Event.LOGOUT if reason == RevokeReason.LOGOUT_ALL else Event.SESSION_REVOKED,
            meta=meta,
            target=user,
            details={"scope": "all", "reason": reason, "sessions_revoked": revoked},
        )
    return revoked


def session_logout(
    *, user: User | Principal, session_id: str | None, raw_refresh: str | None, meta: RequestMeta
) -> None:
    """End the caller's current session (from the access token, else the refresh token given)."""
    if session_id is None and raw_refresh:
        try:
            claims = refresh_token_decode(raw_refresh)
        except TokenNotValid:
            raise ServiceError(errors={"refresh_token": [REFRESH_TOKEN_INVALID]}) from None
        session_id = str(claims["sid"])
    if session_id is None:
        raise ServiceError(NO_SESSION, errors={"refresh_token": [NO_SESSION]})
    session_revoke(user=user, session_id=session_id, reason=RevokeReason.LOGOUT, meta=meta)


def mfa_code_check_for_login(*, request: HttpRequest, user: User, code: str, meta: RequestMeta) -> bool:
    """The second factor of a login that is not an API session (the Django admin's form).
    A wrong code is audited and counts toward the axes lockout like a wrong password."""
    with transaction.atomic():
        method = mfa_code_verify(user=user, code=code)
        if method is None:
            audit_record(
                event=Event.MFA_FAILED,
                meta=meta,
                outcome=Outcome.FAILURE,
                target=user,
                details={"channel": "admin"},
            )
    if method is None:
        user_login_failed.send(sender=__name__, credentials={"username": user.username}, request=request)
        return False
    return True
