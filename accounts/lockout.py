"""Brute-force lockout on django-axes' database handler, with two locks:

- the (username, IP) pair after AXES_FAILURE_LIMIT failures: one attacker cannot lock a
  victim out everywhere, only from the attacker's own address;
- the IP alone after AXES_IP_FAILURE_LIMIT failures across any usernames (credential
  stuffing from one address).

Axes compares one failure count with one limit, so `get_failures` reports the IP's count
scaled onto the pair's limit: `ip * pair_limit // ip_limit >= pair_limit` exactly when
`ip >= ip_limit`. Unknown usernames are counted exactly like real ones.
"""

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
from accounts.models import User


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


class GatehouseAxesHandler(AxesDatabaseHandler):
    def get_failures(self, request, credentials: dict | None = None) -> int:
        username = get_client_username(request, credentials)
        ip = request.axes_ip_address
        totals = (
            _recent(request)
            .filter(ip_address=ip)
            .aggregate(
                ip=Sum("failures_since_start"),
                pair=Sum("failures_since_start", filter=Q(username=username)),
            )
        )
        pair, by_ip = totals["pair"] or 0, totals["ip"] or 0
        return max(pair, by_ip * settings.AXES_FAILURE_LIMIT // settings.AXES_IP_FAILURE_LIMIT)


def lockout_retry_after(request) -> int:
    """Seconds until the client's newest failure cools off (an upper bound for either lock)."""
    AxesProxyHandler.update_request(request)
    latest = (
        _recent(request)
        .filter(ip_address=request.axes_ip_address)
        .aggregate(latest=Max("attempt_time"))["latest"]
    )
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
        {"retry_after_minutes": -(-lockout_retry_after(request) // 60)},
        status=429,
    )
