"""Brute-force lockout on django-axes' database handler, with three locks:

- the (username, IP) pair after AXES_FAILURE_LIMIT failures: one attacker cannot lock a
  victim out everywhere, only from the attacker's own address;
- the IP alone after AXES_IP_FAILURE_LIMIT failures across any usernames (credential
  stuffing from one address);
- the account after AXES_ACCOUNT_FAILURE_LIMIT failures from any addresses (an attacker
  rotating addresses), for addresses it has never logged in from: its owner's still work.

"IP" is what axes records, core.request.client_ip_bucket: an IPv4 address or an IPv6 prefix.
Axes compares one failure count with one limit, so `get_failures` reports the pair's count,
raised to the pair's limit when another lock holds. Which lock refused is left on the request
(`gatehouse_lock`) for the audit trail. Unknown usernames are counted exactly like real ones.
"""

from dataclasses import dataclass, field
from datetime import timedelta

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_client_username
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Max, Q, Sum
from django.db.models.functions import Lower
from django.http import HttpRequest
from django.shortcuts import render
from django.utils import timezone

from accounts.emails import email_lookup_key
from accounts.models import KnownLoginAddress, LockKind, User


def login_identifier(request: HttpRequest, credentials: dict | None) -> str | None:
    """The name axes counts failures under: the account's username when the client typed its
    email (so "alice" and "alice@example.com" share one count), else what was typed, case-folded.
    One indexed query for any email, known or not, so timing tells nothing."""
    raw = (credentials or {}).get("username")
    if not isinstance(raw, str):
        return raw
    typed = raw.strip().lower()
    if "@" not in typed:
        return typed
    typed = email_lookup_key(typed)
    remembered = getattr(request, "_gatehouse_login_name", None)
    if remembered and remembered[0] == typed:
        return remembered[1]
    username = User.objects.alias(e=Lower("email")).filter(e=typed).values_list("username", flat=True).first()
    name = username.lower() if username else typed
    request._gatehouse_login_name = (typed, name)
    return name


def _recent(request):
    return AccessAttempt.objects.filter(attempt_time__gte=get_cool_off_threshold(request))


@dataclass(frozen=True)
class LockState:
    """Recent failures of one login attempt's pair, address and account, and the locks they hold."""

    counts: dict[str, int] = field(default_factory=dict)
    # Every lock whose count has reached its limit (the account's whatever the address).
    holding: tuple[str, ...] = ()
    # The lock that refuses this client, None when it may try.
    refusing: str | None = None

    @property
    def pair(self) -> int:
        return self.counts.get(LockKind.PAIR, 0)


def lock_state(request: HttpRequest, username: str | None) -> LockState:
    """One aggregate query over the cool-off window; a second only when the account's limit is
    reached, to spare the addresses the account has logged in from before."""
    ip = request.axes_ip_address  # type: ignore[attr-defined]  # set by axes
    scope = Q(ip_address=ip) | Q(username=username) if username else Q(ip_address=ip)
    totals = (
        _recent(request)
        .filter(scope)
        .aggregate(
            ip=Sum("failures_since_start", filter=Q(ip_address=ip)),
            pair=Sum("failures_since_start", filter=Q(ip_address=ip, username=username)),
            account=Sum("failures_since_start", filter=Q(username=username)),
        )
    )
    counts = {
        LockKind.PAIR: totals["pair"] or 0,
        LockKind.IP: totals["ip"] or 0,
        LockKind.ACCOUNT: (totals["account"] or 0) if username else 0,
    }
    limits = {
        LockKind.PAIR: settings.AXES_FAILURE_LIMIT,
        LockKind.IP: settings.AXES_IP_FAILURE_LIMIT,
        LockKind.ACCOUNT: settings.AXES_ACCOUNT_FAILURE_LIMIT,
    }
    holding = tuple(kind for kind in LockKind.values if counts[kind] >= limits[kind])
    refusing = next((kind for kind in holding if kind != LockKind.ACCOUNT), None)
    if refusing is None and LockKind.ACCOUNT in holding and not _known_address(username, ip):
        refusing = LockKind.ACCOUNT
    return LockState(counts=counts, holding=holding, refusing=refusing)


def _known_address(username: str | None, ip: str | None) -> bool:
    if not username or not ip:
        return False
    return (
        KnownLoginAddress.objects.alias(name=Lower("user__username"))
        .filter(name=username, ip_bucket=ip)
        .exists()
    )


class GatehouseAxesHandler(AxesDatabaseHandler):
    def get_failures(self, request, credentials: dict | None = None) -> int:
        state = lock_state(request, get_client_username(request, credentials))
        request.gatehouse_lock_state = state
        if state.refusing is not None:
            return max(state.pair, settings.AXES_FAILURE_LIMIT)
        return state.pair

    def is_locked(self, request, credentials: dict | None = None) -> bool:
        # Asked before the password is checked: a refusal here never looked at the password.
        locked = super().is_locked(request, credentials)
        request.gatehouse_refused_unchecked = locked
        return locked


def lockout_retry_after(request, credentials: dict | None = None) -> int:
    """Seconds until the newest failure counted by the refusing lock cools off."""
    AxesProxyHandler.update_request(request)
    state: LockState | None = getattr(request, "gatehouse_lock_state", None)
    kind = state.refusing if state is not None else None
    username = get_client_username(request, credentials or getattr(request, "axes_credentials", None))
    recent = _recent(request)
    if kind == LockKind.ACCOUNT:
        recent = recent.filter(username=username)
    elif kind == LockKind.PAIR:
        recent = recent.filter(ip_address=request.axes_ip_address, username=username)
    else:
        recent = recent.filter(ip_address=request.axes_ip_address)
    latest = recent.aggregate(latest=Max("attempt_time"))["latest"]
    if latest is None:
        return int(settings.AXES_COOLOFF_TIME.total_seconds())
    remaining = latest + settings.AXES_COOLOFF_TIME - timezone.now()
    return max(1, int(remaining / timedelta(seconds=1)) + 1)


def lockout_response(request, original_response=None, credentials=None):
    """AXES_LOCKOUT_CALLABLE: the API has already answered in its own JSON shape; the admin's
    login form gets a short page."""
    if request.path.startswith("/api/") and original_response is not None:
        return original_response
    return render(
        request,
        "accounts/locked_out.html",
        {"retry_after_minutes": -(-lockout_retry_after(request, credentials) // 60)},
        status=429,
    )
