"""The suite runs where production runs: PostgreSQL and Redis, when scripts/test started them."""

import os

import pytest
from django.conf import settings
from django.db import connection

pytestmark = pytest.mark.django_db


def test_suite_runs_on_postgresql_and_redis_under_scripts_test():
    if "postgres" not in os.environ.get("GATEHOUSE_SERVICES", ""):
        pytest.fail("run the suite with ./scripts/test so it uses PostgreSQL and Redis")
    assert connection.vendor == "postgresql"
    assert settings.CACHES["default"]["BACKEND"] == "django_redis.cache.RedisCache"


def test_argon2_is_the_first_hasher_in_every_profile():
    from config.settings import base

    assert base.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"
    assert "Argon2" in settings.PASSWORD_HASHERS[0]
