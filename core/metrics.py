"""Prometheus metrics: the security counters and the request-duration histogram.

Under gunicorn with PROMETHEUS_MULTIPROC_DIR set, prometheus_client keeps each worker's values
in memory-mapped files in that directory and `/metrics` sums them over every process
(see config/gunicorn.py). Label values come from small fixed sets only (outcomes, route
templates, methods, status classes): never a raw path, a user or an address.
"""

import os

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)

# `*_created` series double the output and mean nothing across restarting workers.
disable_created_metrics()

MULTIPROC_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
if MULTIPROC_DIR:
    # gunicorn's on_starting makes it too, but a management command may run first.
    os.makedirs(MULTIPROC_DIR, exist_ok=True)

LOGIN_OUTCOMES = ("success", "failure", "locked", "inactive", "mfa_failed")
REFRESH_OUTCOMES = ("success", "reused", "expired", "revoked", "invalid")
APIKEY_OUTCOMES = ("success", "invalid", "expired", "revoked")

LOGINS = Counter("gatehouse_logins", "Login attempts by outcome.", ["outcome"])
TOKEN_REFRESHES = Counter("gatehouse_token_refreshes", "Refresh-token uses by outcome.", ["outcome"])
TOKEN_REUSE = Counter("gatehouse_token_reuse", "Refresh tokens presented a second time (session revoked).")
LOCKOUTS = Counter("gatehouse_lockouts", "Name/address pairs locked after too many failed logins.")
RATELIMITED = Counter("gatehouse_ratelimited", "Requests refused by a rate limit, by bucket.", ["scope"])
APIKEY_AUTH = Counter("gatehouse_apikey_auth", "API-key authentications by outcome.", ["outcome"])
REQUEST_DURATION = Histogram(
    "gatehouse_http_request_duration_seconds",
    "Time from the request reaching Django to its response, by route template.",
    ["route", "method", "status"],
    # From a warm JWT check (a couple of ms) to an Argon2 login (hundreds of ms).
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

# Children bound once: the hot paths only call .inc(), no label lookup.
_logins = {outcome: LOGINS.labels(outcome) for outcome in LOGIN_OUTCOMES}
_refreshes = {outcome: TOKEN_REFRESHES.labels(outcome) for outcome in REFRESH_OUTCOMES}
_apikey_auth = {outcome: APIKEY_AUTH.labels(outcome) for outcome in APIKEY_OUTCOMES}

# Error codes of a refused refresh or key, as outcomes.
_REFUSAL_OUTCOMES = {
    "token_expired": "expired",
    "session_expired": "expired",
    "token_revoked": "revoked",
    "token_reused": "reused",
}


def token_refresh_refused(code: str) -> None:
    """A refresh answered with an error; reuse is counted from its audit event instead."""
    outcome = _REFUSAL_OUTCOMES.get(code, "invalid")
    if outcome != "reused":
        _refreshes[outcome].inc()


def ratelimited(scope: str) -> None:
    """A request refused by the rate-limit bucket `scope` (e.g. `ip:login`, `user:admin`, `apikey`)."""
    RATELIMITED.labels(scope).inc()


def apikey_auth(code: str | None) -> None:
    """An API-key check: None when the key was accepted, else the error code it got."""
    if code is None:
        _apikey_auth["success"].inc()
    else:
        _apikey_auth[_REFUSAL_OUTCOMES.get(code, "invalid")].inc()


def _login_failed_outcome(details: dict) -> str:
    reason = details.get("reason")
    if reason == "account_locked":
        return "locked"
    if reason == "inactive":
        return "inactive"
    return "failure"


def audit_event_counted(event: str, outcome: str, details: dict) -> None:
    """Audit listener: the security counters the audit trail already records, after commit."""
    if event == "auth.login_succeeded":
        _logins["success"].inc()
    elif event == "auth.login_failed":
        _logins[_login_failed_outcome(details)].inc()
    elif event == "auth.mfa_failed":
        _logins["mfa_failed"].inc()
    elif event == "auth.locked_out":
        LOCKOUTS.inc()
    elif event == "token.refreshed":
        _refreshes["success"].inc()
    elif event == "token.reused":
        _refreshes["reused"].inc()
        TOKEN_REUSE.inc()


def exposition() -> bytes:
    """The text format of every metric, summed over all worker processes in multiprocess mode."""
    if MULTIPROC_DIR:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(REGISTRY)
