"""How accounts tells the apps above it about a change, without importing them.

Plain lists of plain functions, registered in an app's `AppConfig.ready()` (apikeys does).
Nothing here writes an audit event or hides a rule: the service that makes the change audits
it; a hook only keeps another app's derived state (a cache entry, a count) in step.
"""

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.db.models import QuerySet

from core.request import RequestMeta

# Called with the user's id after their role, status or name changed (in the transaction).
user_powers_changed: list[Callable[[int], None]] = []
# Called with (user_id, reason, meta) when every credential of the user must die for good
# (password reset, deactivation, deletion, a change that asks for it), in the transaction.
user_credentials_revoked: list[Callable[[int, str, RequestMeta], None]] = []
# Each returns {kind: rows past their retention at `now`} for auth_cleanup.
cleanup_targets: list[Callable[[datetime], dict[str, QuerySet[Any]]]] = []
# Each returns {name: number} to add to auth_stats.
stats_contributions: list[Callable[[datetime], dict[str, int]]] = []


def on_user_powers_changed(func: Callable[[int], None]) -> Callable[[int], None]:
    user_powers_changed.append(func)
    return func


def on_user_credentials_revoked(
    func: Callable[[int, str, RequestMeta], None],
) -> Callable[[int, str, RequestMeta], None]:
    user_credentials_revoked.append(func)
    return func


def on_cleanup(
    func: Callable[[datetime], dict[str, QuerySet[Any]]],
) -> Callable[[datetime], dict[str, QuerySet[Any]]]:
    cleanup_targets.append(func)
    return func


def on_stats(func: Callable[[datetime], dict[str, int]]) -> Callable[[datetime], dict[str, int]]:
    stats_contributions.append(func)
    return func


def user_powers_changed_publish(user_id: int) -> None:
    for hook in user_powers_changed:
        hook(user_id)


def user_credentials_revoked_publish(user_id: int, reason: str, meta: RequestMeta) -> None:
    for hook in user_credentials_revoked:
        hook(user_id, reason, meta)
