"""Tests: PostgreSQL and Redis when DATABASE_URL / REDIS_URL are set (CI sets them), else SQLite."""

from .base import *  # noqa: F403
from .base import derived_key, env_url, simple_jwt_settings

SECRET_KEY = "test-only-secret-key-not-for-any-deployment-0123456789"  # noqa: S105
SIMPLE_JWT = simple_jwt_settings(derived_key("gatehouse.jwt", SECRET_KEY))
PUBLIC_BASE_URL = env_url("PUBLIC_BASE_URL", "http://testserver")

# Argon2 stays first (what production runs) with a small cost, so the suite stays fast.
PASSWORD_HASHERS = ["accounts.tests.hashers.FastArgon2PasswordHasher"]

EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
EMAIL_SEND_ASYNC = False  # tests read mail.outbox right after the request (one test checks the thread)
LOGGING["root"]["level"] = "WARNING"  # noqa: F405

# No persistent connections: live-server threads must not keep the test database open.
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405

# A loaded CI machine can stall Redis for longer than production's 0.5 s budget; tests that
# count rate limits exactly must not see a timeout as "cache down" (a refused connection,
# as in the fault tests, still fails at once).
for _alias in CACHES.values():  # noqa: F405
    if "OPTIONS" in _alias:
        _alias["OPTIONS"].update({"SOCKET_TIMEOUT": 5, "SOCKET_CONNECT_TIMEOUT": 5})

# Tests and the live test servers read static files from the apps, without collectstatic.
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # noqa: F405
WHITENOISE_USE_FINDERS = True
STATIC_ROOT = None  # static files come from the apps directly (no collectstatic)
