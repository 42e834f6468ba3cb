"""Sessions: login, refresh-token rotation, logout and revocation."""

import logging
import uuid
from typing import NoReturn

from axes.handlers.proxy import AxesProxyHandler
from django.contrib.auth import authenticate
from django.db import connection, transaction
from django.http import HttpRequest
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from accounts import auth_state
from accounts.errors import (
    NO_SESSION,
    REFRESH_TOKEN_INVALID,
    AccountLocked,
    InvalidCredentials,
    TokenNotValid,
    TokenReused,
    TokenRevoked,
)
from accounts.lockout import lockout_retry_after, login_identifier
from accounts.models import RevokeReason, Session, User
from accounts.principal import Principal
from accounts.services.lockouts import known_address_record, login_failure_record
from accounts.tokens import (
    REMEMBER_ME_CLAIM,
    TokenPair,
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


def session_start(*, user: User, remember_me: bool, meta: RequestMeta) -> tuple[Session, TokenPair]:
    """Open a session for a user whose credentials were just checked, in the caller's transaction."""
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


def session_login(
    *, request: HttpRequest, identifier: str, password: str, remember_me: bool, meta: RequestMeta
) -> tuple[User, TokenPair]:
    """Check a password (axes counts failures), then open a session and issue its first tokens."""
    user = authenticate(request, username=identifier, password=password)
    if not isinstance(user, User):
        _login_failed(request=request, identifier=identifier, meta=meta)
    # A success clears this name's failures from this address (axes' reset-on-success),
    # counted as axes counts addresses (IPv6 per prefix).
    AxesProxyHandler.reset_attempts(
        ip_address=ip_bucket(meta.ip_address), username=login_identifier(request, {"username": identifier})
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
        session, pair = session_start(user=user, remember_me=remember_me, meta=meta)
        known_address_record(user=user, ip_address=meta.ip_address)
        auth_state.publish_user_changed(user.pk, powers=False)
        audit_record(
            event=Event.LOGIN_SUCCEEDED,
            meta=meta,
            actor=user,
            target=user,
            details={"session_id": str(session.pk), "remember_me": remember_me},
        )
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
    jti only if the presented token is that jti, the session is live and belongs to `sub`.
    Only when it matches nothing does the slower path find out why.
    """
    claims = refresh_token_decode(raw_token)
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
        return user, pair
    except _NotSwapped:
        pass
    _refresh_refused(session_id=session_id, jti=jti, subject=subject, meta=meta)


def _refresh_refused(*, session_id: str, jti: str, subject: str, meta: RequestMeta) -> NoReturn:
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


def sessions_revoke_all_locked(*, user_id: int, reason: str) -> int:
    """Revoke every live session of a user, inside the caller's transaction (which audits)."""
    sessions = Session.objects.select_for_update().filter(user_id=user_id, revoked_at__isnull=True)
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
