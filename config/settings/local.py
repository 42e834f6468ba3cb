"""Local development: SQLite and a local-memory cache, no variables needed."""

import secrets

from .base import *  # noqa: F403
from .base import BASE_DIR, derived_key, env_str, simple_jwt_settings

DEBUG = True


def _local_secret_key() -> str:
    """A random key made once per checkout, so tokens survive a restart of runserver."""
    path = BASE_DIR / ".local-secret-key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = env_str("DJANGO_SECRET_KEY") or _local_secret_key()
# The HS256 secret: signs in HS256 mode, and verifies tokens made before signing keys had kids.
JWT_SIGNING_KEY = env_str("JWT_SIGNING_KEY") or derived_key("gatehouse.jwt", SECRET_KEY)
SIMPLE_JWT = simple_jwt_settings(JWT_SIGNING_KEY)

# runserver serves static files itself; no collectstatic step for a first try.
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # noqa: F405
STATIC_ROOT = None  # static files come from the apps directly (no collectstatic)
