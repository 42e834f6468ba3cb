"""What apikeys registers with accounts' hooks (ApikeysConfig.ready): key cleanup, key stats
and dropping a user's cached keys when their powers change."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from accounts import hooks
from accounts.selectors import auth_stats
from accounts.services.housekeeping import auth_cleanup
from accounts.services.users import user_set_role
from apikeys.cache import forget_keys_of, key_cache_key, key_state_get
from apikeys.models import APIKey
from apikeys.selectors import apikey_cleanup_targets, apikey_stats
from apikeys.tests.factories import api_key_create

pytestmark = pytest.mark.django_db


def test_apikeys_registers_each_hook_once():
    assert hooks.user_powers_changed.count(forget_keys_of) == 1
    assert hooks.cleanup_targets.count(apikey_cleanup_targets) == 1
    assert hooks.stats_contributions.count(apikey_stats) == 1


def test_auth_cleanup_removes_expired_keys_between_sessions_and_attempts(user):
    expired, _key = api_key_create(user)
    kept, _key = api_key_create(user)
    APIKey.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(days=1))
    assert list(auth_cleanup(dry_run=True)) == [
        "tokens",
        "sessions",
        "mfa_challenges",
        "api_keys",
        "attempts",
        "lockouts",
        "failure_logs",
        "known_addresses",
    ]
    assert auth_cleanup()["api_keys"] == 1
    assert list(APIKey.objects.values_list("pk", flat=True)) == [kept.pk]


def test_auth_stats_counts_usable_keys_last(user):
    api_key_create(user)
    revoked, _key = api_key_create(user)
    APIKey.objects.filter(pk=revoked.pk).update(revoked_at=timezone.now())
    stats = auth_stats()
    assert list(stats)[-1] == "active_api_keys" and stats["active_api_keys"] == 1


def test_a_role_change_outdates_the_owners_cached_keys(user):
    key, _full = api_key_create(user)
    assert key_state_get(key.prefix)["owner"]["role"] == "user"
    assert cache.get(key_cache_key(key.prefix)) is not None
    user_set_role(user_id=user.pk, role="developer")
    # The entry may still be there, but under an outdated version: it is never served again.
    assert key_state_get(key.prefix)["owner"]["role"] == "developer"
