"""Listeners told about each audit event once its transaction has committed.

Other parts of the project (metrics, alerting) count security events from here instead of
hooking every service. Audit knows nothing about its listeners: they register themselves at
start-up (an AppConfig.ready()), and a failing listener is logged, never the caller's error.
"""

from collections.abc import Callable

from django.db import transaction

AuditListener = Callable[[str, str, dict], None]  # (event, outcome, details)

_listeners: list[AuditListener] = []


def audit_listener_add(listener: AuditListener) -> None:
    """Call `listener(event, outcome, details)` after each committed audit event."""
    if listener not in _listeners:
        _listeners.append(listener)


def audit_listener_remove(listener: AuditListener) -> None:
    if listener in _listeners:
        _listeners.remove(listener)


def audit_listeners_notify_on_commit(*, event: str, outcome: str, details: dict) -> None:
    """Schedule the listeners for when the current transaction commits (never if it rolls back)."""

    def notify_audit_listeners() -> None:  # a named function: Django logs its name if it fails
        for listener in tuple(_listeners):
            listener(event, outcome, details)

    if _listeners:
        transaction.on_commit(notify_audit_listeners, robust=True)
