"""Production: secrets and shared services are required; `check --deploy` is clean."""

from .base import *  # noqa: F403
from .base import (
    JWT_ALGORITHM,
    TASK_BACKENDS,
    env_bool,
    env_choice,
    env_int,
    env_str,
    env_url,
    logging_settings,
    simple_jwt_settings,
    tasks_settings,
)


def _required(name: str) -> str:
    value = env_str(name)
    if not value:
        raise SystemExit(f"error: {name} must be set in production (see README, Configuration)")
    return value


SECRET_KEY = _required("DJANGO_SECRET_KEY")
# Issuer, discovery URLs and mail links: never guessed from a request's Host header.
PUBLIC_BASE_URL = env_url("PUBLIC_BASE_URL", _required("PUBLIC_BASE_URL"))
JWT_ISSUER = env_str("JWT_ISSUER") or PUBLIC_BASE_URL
# The HS256 secret: needed to sign in HS256 mode, and kept after a switch to an asymmetric
# algorithm until the tokens it signed have expired.
JWT_SIGNING_KEY = _required("JWT_SIGNING_KEY") if JWT_ALGORITHM == "HS256" else env_str("JWT_SIGNING_KEY")
if JWT_SIGNING_KEY and len(JWT_SIGNING_KEY) < 32:
    raise SystemExit("error: JWT_SIGNING_KEY must be at least 32 characters of random data")
SIMPLE_JWT = simple_jwt_settings(JWT_SIGNING_KEY, issuer=JWT_ISSUER)

# Several processes must share revocations and rate-limit counters.
if not (env_str("REDIS_URL") or env_str("REDIS_SENTINELS")):
    raise SystemExit(
        "error: REDIS_URL (or REDIS_SENTINELS and REDIS_SENTINEL_MASTER) must be set in production"
        " (see README, Configuration)"
    )

DEBUG = False

# Mail waits in the database for `manage.py db_worker`: it survives restarts, a failing SMTP
# server is retried, and a request never waits for SMTP (no timing tells an address apart).
TASKS_BACKEND = env_choice("TASKS_BACKEND", "database", tuple(TASK_BACKENDS))
TASKS = tasks_settings(TASKS_BACKEND)

# --- TLS and cookies (TLS ends at the proxy, which sets X-Forwarded-Proto) ---------
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
# The health checks are probed, and /metrics scraped, over plain HTTP inside the network.
SECURE_REDIRECT_EXEMPT = [r"^api/v1/health/?$", r"^api/v1/health/live/?$", r"^metrics$"]

# --- Logs: JSON lines for the log shipper unless LOG_FORMAT says otherwise ------------------
LOG_FORMAT = env_str("LOG_FORMAT", "json")
LOGGING = logging_settings(log_format=LOG_FORMAT, level=env_str("LOG_LEVEL", "INFO"))
