"""Settings shared by every profile. Values come from the environment (see README)."""

import os
from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote, urlsplit

import dj_database_url
from django.utils.crypto import salted_hmac

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise SystemExit(f"error: {name} must be true or false, not {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise SystemExit(f"error: {name} must be a whole number, not {raw!r}") from None


def derived_key(purpose: str, secret: str) -> str:
    """A key for one purpose derived from the Django secret (development and tests only)."""
    return salted_hmac(purpose, "derived-key", secret=secret, algorithm="sha256").hexdigest()


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


def env_url(name: str, default: str) -> str:
    """An absolute http(s) URL without path, query or fragment, trailing slash removed."""
    value = env_str(name, default).rstrip("/")
    parsed = urlsplit(value)
    if parsed.scheme not in {"http", "https"} or not parsed.netloc or parsed.query or parsed.fragment:
        raise SystemExit(
            f"error: {name} must be an absolute http(s) URL like https://id.example.com, not {value!r}"
        )
    return value


# --- Core -------------------------------------------------------------------
DEBUG = False
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1")
ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True
# The API contract has no trailing-slash redirects: URLs accept both forms themselves.
APPEND_SLASH = False

INSTALLED_APPS = [
    # First, so its commands (changepassword) replace Django's unaudited ones.
    "accounts",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI served from here, not from a CDN
    "axes",
    "apikeys",
    "audit",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Static files (admin, Swagger UI) straight from gunicorn, compressed and cached.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "audit.middleware.RequestIdMiddleware",
    "config.exception_handler.ApiErrorMiddleware",
    # Sessions, Django's user, messages and axes' lockout page serve the admin and HTML pages;
    # config.middleware skips them for /api/ (DRF authenticates every API request itself).
    "config.middleware.HtmlOnlySessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "config.middleware.HtmlOnlyAuthenticationMiddleware",
    "config.middleware.HtmlOnlyMessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "config.middleware.HtmlOnlyAxesMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# --- Database ---------------------------------------------------------------
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=60,
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A dead database answers 503 quickly instead of hanging a worker.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"connect_timeout": 3, "options": "-c statement_timeout=15000"}
    )

# --- Cache: auth state, rate-limit counters -----------------------------------
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "gh",
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                "SOCKET_CONNECT_TIMEOUT": 0.5,
                "SOCKET_TIMEOUT": 0.5,
                # A Redis outage degrades to database reads (see README), never a 500.
                "IGNORE_EXCEPTIONS": True,
            },
        }
    }
    CACHES["ratelimit"] = {**CACHES["default"], "BACKEND": "config.cache_backends.RateLimitRedisCache"}
    DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
else:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "gatehouse"},
        "ratelimit": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "gatehouse"},
    }
# How long a process may trust a cached "session is live" / user snapshot. Revocations are
# written to the cache at once; this bounds staleness only if a cache write was lost.
AUTH_STATE_CACHE_SECONDS = 60

# --- Users and passwords ------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "accounts.backends.UsernameOrEmailBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
# NIST SP 800-63B: length and a blocklist, no composition rules.
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
        "OPTIONS": {"user_attributes": ("username", "email", "full_name")},
    },
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "accounts.validators.MaximumLengthValidator"},
]
PASSWORD_RESET_TIMEOUT = 60 * 60  # one hour: the link travels by email

# --- REST framework -----------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apikeys.authentication.APIKeyAuthentication",
        "accounts.authentication.SessionJWTAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["config.parsers.StrictJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "config.exception_handler.api_exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["accounts.throttling.PrincipalThrottle"],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Gatehouse API",
    "DESCRIPTION": "Identity and access: accounts, sessions, JWTs and API keys.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.openapi.contract_paths_and_errors",
    ],
}

# --- Tokens (simplejwt) ---------------------------------------------------------
ACCESS_TOKEN_LIFETIME_SECONDS = env_int("ACCESS_TOKEN_LIFETIME_SECONDS", 900)
REFRESH_TOKEN_LIFETIME_SECONDS = env_int("REFRESH_TOKEN_LIFETIME_SECONDS", 604800)
REFRESH_TOKEN_REMEMBER_ME_SECONDS = env_int("REFRESH_TOKEN_REMEMBER_ME_SECONDS", 2592000)
JWT_ISSUER = "gatehouse"
JWT_AUDIENCE = "gatehouse-api"
# Where clients reach this service; discovery documents (and mail links) are built from it.
PUBLIC_BASE_URL = env_url("PUBLIC_BASE_URL", "http://127.0.0.1:8000")


def simple_jwt_settings(signing_key: str) -> dict:
    """simplejwt configuration; the signing key comes from the profile. Only what simplejwt's
    token classes read: rotation, the blacklist and last_login are Gatehouse's own
    (accounts.services.sessions), so simplejwt's view flags for them are not set."""
    return {
        "ACCESS_TOKEN_LIFETIME": timedelta(seconds=ACCESS_TOKEN_LIFETIME_SECONDS),
        "REFRESH_TOKEN_LIFETIME": timedelta(seconds=REFRESH_TOKEN_LIFETIME_SECONDS),
        # One algorithm: the allow-list handed to PyJWT is exactly this.
        "ALGORITHM": "HS256",
        "SIGNING_KEY": signing_key,
        "VERIFYING_KEY": "",
        "AUDIENCE": JWT_AUDIENCE,
        "ISSUER": JWT_ISSUER,
        "LEEWAY": 0,
        "AUTH_HEADER_TYPES": ("Bearer",),
        "TOKEN_TYPE_CLAIM": "token_type",
        "JTI_CLAIM": "jti",
    }


# --- API keys ---------------------------------------------------------------------
# The pepper of the keys' HMAC. Empty: derived from DJANGO_SECRET_KEY (rotating that key
# then invalidates every API key).
API_KEY_PEPPER = env_str("API_KEY_PEPPER")
API_KEY_DEFAULT_DAYS = 90
API_KEY_MAX_ACTIVE_PER_USER = 50

# --- Brute-force lockout (django-axes) --------------------------------------------
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_MINUTES = env_int("AXES_COOLOFF_MINUTES", 30)
AXES_COOLOFF_TIME = timedelta(minutes=AXES_COOLOFF_MINUTES)
# Failures across any usernames from one IP before that IP is locked (credential stuffing).
AXES_IP_FAILURE_LIMIT = env_int("AXES_IP_FAILURE_LIMIT", 4 * AXES_FAILURE_LIMIT)
# Failures for one account from any addresses before addresses it has never logged in from
# are refused (rotating addresses); the owner's known addresses still work.
AXES_ACCOUNT_FAILURE_LIMIT = env_int("AXES_ACCOUNT_FAILURE_LIMIT", 20)
AXES_HANDLER = "accounts.lockout.GatehouseAxesHandler"
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"
# Rows are recorded per (username, IP); the handler counts the pair and the IP itself.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# Counted per IPv4 address or IPv6 prefix (IPV6_PREFIX_LENGTH); the audit keeps the full address.
AXES_CLIENT_IP_CALLABLE = "core.request.client_ip_bucket"
AXES_USERNAME_CALLABLE = "accounts.lockout.login_identifier"
# Gatehouse writes its own audit trail; axes' per-login access log would duplicate it.
AXES_DISABLE_ACCESS_LOG = True
AXES_SENSITIVE_PARAMETERS = ["password", "current_password", "new_password", "token"]
# accounts.admin shows axes' records read-only: only the audited unlock clears them.
AXES_ENABLE_ADMIN = False

# --- Rate limits (django-ratelimit) -------------------------------------------------
RATELIMIT_ENABLE = env_bool("RATELIMIT_ENABLE", True)
RATELIMIT_AUTH = env_str("RATELIMIT_AUTH", "10/m")
# Failed authentications (bad, expired or revoked token or key) per client IP: over it, 429
# before the credential is even checked.
RATELIMIT_AUTH_FAILURES = env_str("RATELIMIT_AUTH_FAILURES", "60/m")
RATELIMIT_USE_CACHE = "ratelimit"
# Redis down: let requests through (and log it) rather than lock every client out.
RATELIMIT_FAIL_OPEN = True
RATELIMIT_BY_ROLE = {
    "guest": env_str("RATELIMIT_GUEST", "60/h"),
    "user": env_str("RATELIMIT_USER", "100/h"),
    "developer": env_str("RATELIMIT_DEVELOPER", "500/h"),
    "service_account": env_str("RATELIMIT_SERVICE_ACCOUNT", "5000/h"),
    "admin": env_str("RATELIMIT_ADMIN", "1000/h"),
}

# --- Client IP ------------------------------------------------------------------
# How many X-Forwarded-For hops (from the right) were appended by proxies we run.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
# An IPv6 client is counted per network of this length (one subscriber usually holds a /64).
IPV6_PREFIX_LENGTH = env_int("IPV6_PREFIX_LENGTH", 64)
if not 1 <= IPV6_PREFIX_LENGTH <= 128:
    raise SystemExit(f"error: IPV6_PREFIX_LENGTH must be between 1 and 128, not {IPV6_PREFIX_LENGTH}")

# --- Email ------------------------------------------------------------------------
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_URL = env_str("EMAIL_URL")
if EMAIL_URL:
    # smtp://user:password@host:587 (STARTTLS) or smtps://user:password@host:465 (TLS)
    _email = urlsplit(EMAIL_URL)
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = _email.hostname or "localhost"
    EMAIL_PORT = _email.port or (465 if _email.scheme == "smtps" else 587)
    EMAIL_HOST_USER = unquote(_email.username or "")
    EMAIL_HOST_PASSWORD = unquote(_email.password or "")
    EMAIL_USE_SSL = _email.scheme == "smtps"
    EMAIL_USE_TLS = _email.scheme == "smtp" and EMAIL_PORT != 25
    EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Gatehouse <no-reply@localhost>")
# Mail goes out on a background thread: response time must not depend on whether one was sent.
EMAIL_SEND_ASYNC = True

# --- Security headers that hold in every profile -------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
# Request bodies beyond this are refused before they are parsed.
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024

# --- Logging ----------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "audit.middleware.RequestIdLogFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["request_id"]}
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "axes": {"level": "WARNING"},
        "django.request": {"level": "ERROR"},
    },
}

# Usernames are unique case-insensitively (a functional unique constraint on LOWER(username)),
# which is stricter than the plain unique=True this check looks for.
# axes looks for its middleware by exact name; config.middleware.HtmlOnlyAxesMiddleware is it,
# skipped only on /api/ where lockouts answer in JSON.
SILENCED_SYSTEM_CHECKS = ["auth.W004", "axes.W002"]
