"""Production: secrets and shared services are required; `check --deploy` is clean."""

from .base import *  # noqa: F403
from .base import env_bool, env_int, env_str, env_url, simple_jwt_settings


def _required(name: str) -> str:
    value = env_str(name)
    if not value:
        raise SystemExit(f"error: {name} must be set in production (see README, Configuration)")
    return value


SECRET_KEY = _required("DJANGO_SECRET_KEY")
# Issuer, discovery URLs and mail links: never guessed from a request's Host header.
PUBLIC_BASE_URL = env_url("PUBLIC_BASE_URL", _required("PUBLIC_BASE_URL"))
JWT_SIGNING_KEY = _required("JWT_SIGNING_KEY")
if len(JWT_SIGNING_KEY) < 32:
    raise SystemExit("error: JWT_SIGNING_KEY must be at least 32 characters of random data")
SIMPLE_JWT = simple_jwt_settings(JWT_SIGNING_KEY)

# Several processes must share revocations and rate-limit counters.
_required("REDIS_URL")

DEBUG = False

# --- TLS and cookies (TLS ends at the proxy, which sets X-Forwarded-Proto) ---------
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
# The health check is probed over plain HTTP by load balancers inside the network.
SECURE_REDIRECT_EXEMPT = [r"^api/v1/health/?$"]
