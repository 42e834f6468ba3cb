"""Settings shared by every profile. Values come from the environment (see README)."""

import os
import re
from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote, urlsplit

import dj_database_url
from cryptography.fernet import Fernet
from django.utils.crypto import salted_hmac

from config.observability.logformat import logging_settings

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


_ORIGIN = re.compile(r"(https?)://([a-z0-9.-]+|\[[0-9a-f:.]+\])(?::([0-9]{1,5}))?")


def env_origins(name: str) -> list[str]:
    """Comma-separated browser origins (`scheme://host[:port]`, as a browser sends them)."""
    origins = []
    for raw in env_list(name, ""):
        origin = raw.lower()
        match = _ORIGIN.fullmatch(origin)
        port = match and match.group(3)
        if not match or (port and not 0 < int(port) < 65536):
            raise SystemExit(f"error: {name} takes origins like https://app.example.com[:port], not {raw!r}")
        if port and int(port) == {"http": 80, "https": 443}[match.group(1)]:
            # A browser never sends the default port, so this entry could never match.
            raise SystemExit(f"error: {name}: drop the default port from {raw!r}")
        origins.append(origin)
    return origins


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = env_str(name) or default
    if value not in choices:
        raise SystemExit(f"error: {name} must be one of {', '.join(choices)}, not {value!r}")
    return value


def env_url(name: str, default: str) -> str:
    """An absolute http(s) URL without path, query or fragment, trailing slash removed."""
    value = env_str(name, default).rstrip("/")
    parsed = urlsplit(value)
    if parsed.scheme not in {"http", "https"} or not parsed.netloc or parsed.query or parsed.fragment:
        raise SystemExit(
            f"error: {name} must be an absolute http(s) URL like https://id.example.com, not {value!r}"
        )
    return value


def env_fernet_keys(name: str) -> list[str]:
    keys = env_list(name, "")
    for key in keys:
        try:
            Fernet(key)
        except ValueError:
            raise SystemExit(
                f"error: {name} must be comma-separated Fernet keys (32 url-safe base64-encoded bytes each)"
            ) from None
    return keys


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
    # Django's admin on Gatehouse's site: a TOTP code at login, enrolment before anything else.
    "accounts.admin_apps.GatehouseAdminConfig",
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
    "corsheaders",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_tasks",
    "django_tasks_db",  # the task table the database backend and `manage.py db_worker` use
    "apikeys",
    "audit",
    "config.observability",
]

MIDDLEWARE = [
    # First, before anything that can answer (a redirect, a static file, an error), so
    # every /api/v1/ answer carries its CORS headers and preflights never reach a view.
    "config.middleware.CorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Static files (admin, Swagger UI) straight from gunicorn, compressed and cached.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "audit.middleware.RequestIdMiddleware",
    # Inside the request id (its log line carries it), outside everything that can answer.
    "config.observability.middleware.RequestObservabilityMiddleware",
    "config.exception_handler.ApiErrorMiddleware",
    # Sessions, Django's user, messages and axes' lockout page serve the admin and HTML pages;
    # config.middleware skips them for /api/ (DRF authenticates every API request itself).
    "config.middleware.HtmlOnlySessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "config.middleware.HtmlOnlyAuthenticationMiddleware",
    "config.middleware.HtmlOnlyOTPMiddleware",
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
# "transaction": DATABASE_URL points at PgBouncer in transaction pooling mode, where
# consecutive transactions of one connection may run on different server connections.
DATABASE_POOL_MODE = env_str("DATABASE_POOL_MODE", "none").lower()
if DATABASE_POOL_MODE not in {"none", "transaction"}:
    raise SystemExit(f"error: DATABASE_POOL_MODE must be none or transaction, not {DATABASE_POOL_MODE!r}")
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    _db_options = DATABASES["default"].setdefault("OPTIONS", {})
    # A dead database answers 503 quickly instead of hanging a worker.
    _db_options["connect_timeout"] = 3
    if DATABASE_POOL_MODE == "transaction":
        # No session state may outlive a transaction: no prepared statements (Django 5.2's
        # default too; said here so it cannot drift) and no server-side (named) cursors.
        # PgBouncer refuses the "options" startup parameter, so the statement timeout is set
        # on the database role instead (README, Scaling out).
        _db_options["prepare_threshold"] = None
        DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
    else:
        _db_options["options"] = "-c statement_timeout=15000"

# --- Cache: auth state, rate-limit counters -----------------------------------
REDIS_URL = env_str("REDIS_URL")
# Or Redis behind Sentinel: the sentinels' host:port list and the name they monitor.
REDIS_SENTINELS = env_list("REDIS_SENTINELS", "")
REDIS_SENTINEL_MASTER = env_str("REDIS_SENTINEL_MASTER")
if bool(REDIS_SENTINELS) != bool(REDIS_SENTINEL_MASTER):
    raise SystemExit("error: REDIS_SENTINELS and REDIS_SENTINEL_MASTER must be set together")
if REDIS_SENTINELS and REDIS_URL:
    raise SystemExit("error: set REDIS_URL or REDIS_SENTINELS, not both")


def sentinel_address(item: str) -> tuple[str, int]:
    host, _, port = item.rpartition(":")
    if not host or not port.isascii() or not port.isdigit():
        raise SystemExit(f"error: REDIS_SENTINELS entries must be host:port, not {item!r}")
    return host, int(port)


_redis_options = {
    "CLIENT_CLASS": "django_redis.client.DefaultClient",
    "SOCKET_CONNECT_TIMEOUT": 0.5,
    "SOCKET_TIMEOUT": 0.5,
    # A Redis outage degrades to database reads (see README), never a 500.
    "IGNORE_EXCEPTIONS": True,
}
_redis_location: str | list[str] = REDIS_URL
_redis_key_function = None
if REDIS_SENTINELS:
    _redis_options |= {
        "CLIENT_CLASS": "django_redis.client.SentinelClient",
        "CONNECTION_FACTORY": "django_redis.pool.SentinelConnectionFactory",
        # Sentinel's socket timeouts are the ones above; the pool reads and writes the primary
        # only (a replica may lag behind a revocation) and renames keys after a failover.
        "CONNECTION_POOL_CLASS": "config.redis_sentinel.EpochCheckedSentinelPool",
        "SENTINELS": [sentinel_address(item) for item in REDIS_SENTINELS],
    }
    # A list of one URL: SentinelClient would add a replica pool for reads to a plain string.
    _redis_location = [f"redis://{REDIS_SENTINEL_MASTER}/0"]
    _redis_key_function = "config.redis_sentinel.make_key"
if _redis_location:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": _redis_location,
            "KEY_PREFIX": "gh",
            "OPTIONS": _redis_options,
        }
    }
    if _redis_key_function:
        CACHES["default"]["KEY_FUNCTION"] = _redis_key_function
    CACHES["ratelimit"] = {
        **CACHES["default"],
        "BACKEND": "config.cache_backends.RateLimitRedisCache",
        "OPTIONS": {**_redis_options},
    }
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
    # Imported users' bcrypt hashes (manage.py import_users), upgraded to Argon2 at login.
    "django.contrib.auth.hashers.BCryptPasswordHasher",
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
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "config.negotiation.JSONFirstNegotiation",
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
        "config.openapi.constraints_and_links",
    ],
}

# --- Tokens (simplejwt) ---------------------------------------------------------
ACCESS_TOKEN_LIFETIME_SECONDS = env_int("ACCESS_TOKEN_LIFETIME_SECONDS", 900)
REFRESH_TOKEN_LIFETIME_SECONDS = env_int("REFRESH_TOKEN_LIFETIME_SECONDS", 604800)
REFRESH_TOKEN_REMEMBER_ME_SECONDS = env_int("REFRESH_TOKEN_REMEMBER_ME_SECONDS", 2592000)
# A session ends this long after its login however often it refreshes (a stolen refresh
# token cannot be kept alive for ever); remember-me sessions get the longer one.
SESSION_ABSOLUTE_LIFETIME_SECONDS = env_int("SESSION_ABSOLUTE_LIFETIME_SECONDS", 2592000)
SESSION_ABSOLUTE_REMEMBER_ME_SECONDS = env_int("SESSION_ABSOLUTE_REMEMBER_ME_SECONDS", 90 * 86400)
JWT_AUDIENCE = "gatehouse-api"

# --- Signing keys (accounts.signing) -----------------------------------------------
# The algorithm new keys are made for: asymmetric by default, so resource servers can verify
# tokens from the JWKS without holding a secret that can mint them.
JWT_ALGORITHMS = ("EdDSA", "ES256", "RS256", "HS256")
JWT_ALGORITHM = env_choice("JWT_ALGORITHM", "EdDSA", JWT_ALGORITHMS)
# Where clients reach this service; discovery documents (and mail links) are built from it.
PUBLIC_BASE_URL = env_url("PUBLIC_BASE_URL", "http://127.0.0.1:8000")
# The `iss` of every token and the discovery document's `issuer`.
JWT_ISSUER = env_str("JWT_ISSUER") or PUBLIC_BASE_URL
# Issuers of tokens still in circulation ("gatehouse" before discovery existed): accepted
# until those tokens expire.
JWT_PREVIOUS_ISSUERS = env_list("JWT_PREVIOUS_ISSUERS", "gatehouse")
# A new key is in the JWKS this long before it signs, so resource servers that cache the JWKS
# (max-age 300) never meet an unknown kid.
JWT_KEY_PUBLISH_SECONDS = env_int("JWT_KEY_PUBLISH_SECONDS", 600)
if JWT_KEY_PUBLISH_SECONDS < 0:
    raise SystemExit(f"error: JWT_KEY_PUBLISH_SECONDS must be 0 or more, not {JWT_KEY_PUBLISH_SECONDS}")
# Fernet keys that encrypt private keys in the database (first encrypts, all decrypt). Empty:
# one derived from DJANGO_SECRET_KEY with HKDF.
JWT_KEY_ENCRYPTION_KEYS = env_fernet_keys("JWT_KEY_ENCRYPTION_KEYS")
# How often a process re-reads the key table: bounds how long a retired key keeps working.
JWT_KEYSET_REFRESH_SECONDS = 1.0
# The HS256 secret; each profile sets it (production only when HS256 signs or legacy tokens live).
JWT_SIGNING_KEY = ""


def simple_jwt_settings(signing_key: str, *, issuer: str = JWT_ISSUER) -> dict:
    """simplejwt configuration. Keys and algorithms come from accounts.signing (by kid); the
    HS256 secret (JWT_SIGNING_KEY) comes from the profile."""
    return {
        "ACCESS_TOKEN_LIFETIME": timedelta(seconds=ACCESS_TOKEN_LIFETIME_SECONDS),
        "REFRESH_TOKEN_LIFETIME": timedelta(seconds=REFRESH_TOKEN_LIFETIME_SECONDS),
        # Gatehouse's token classes use accounts.tokens.KeyedTokenBackend, which picks the key
        # and its one algorithm by kid; simplejwt's default backend is never used.
        "ALGORITHM": JWT_ALGORITHM,
        "SIGNING_KEY": signing_key,
        "VERIFYING_KEY": "",
        "AUDIENCE": JWT_AUDIENCE,
        "ISSUER": issuer,
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

# --- Email verification -------------------------------------------------------------
# optional: mail sent at registration, login works; mandatory: no login before the link is
# opened (and registration stops telling whether an address is taken); none: no mail.
EMAIL_VERIFICATION = env_str("EMAIL_VERIFICATION", "optional").lower()
if EMAIL_VERIFICATION not in {"optional", "mandatory", "none"}:
    raise SystemExit(
        f"error: EMAIL_VERIFICATION must be optional, mandatory or none, not {EMAIL_VERIFICATION!r}"
    )
EMAIL_VERIFICATION_TIMEOUT = 3 * 24 * 60 * 60  # the link may wait in an inbox over a weekend

# --- Password history -----------------------------------------------------------------
# A change or reset may not reuse any of the user's last N passwords (0 turns it off).
PASSWORD_HISTORY_COUNT = env_int("PASSWORD_HISTORY_COUNT", 5)

# --- Multi-factor authentication (django-otp TOTP, RFC 6238) -------------------------
# Roles whose admin API needs a session that logged in with a code, and whose Django admin
# login asks for one (enrolling first).
MFA_REQUIRED_FOR_ROLES = frozenset(env_list("MFA_REQUIRED_FOR_ROLES", "admin"))
MFA_TOKEN_LIFETIME_SECONDS = 300
MFA_MAX_ATTEMPTS = 5
MFA_RECOVERY_CODE_COUNT = 10
OTP_TOTP_ISSUER = "Gatehouse"
# Wrong codes are limited by the login's mfa_token (5 tries) and count toward the axes
# lockout; django-otp's own per-device back-off would let anyone who knows the password
# delay the owner's logins, so it is off.
OTP_TOTP_THROTTLE_FACTOR = 0

# --- Brute-force lockout (django-axes) --------------------------------------------
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_MINUTES = env_int("AXES_COOLOFF_MINUTES", 30)
AXES_COOLOFF_TIME = timedelta(minutes=AXES_COOLOFF_MINUTES)
# Failures across any usernames from one IP before that IP is locked (credential stuffing).
AXES_IP_FAILURE_LIMIT = env_int("AXES_IP_FAILURE_LIMIT", 4 * AXES_FAILURE_LIMIT)
# Failures for one account from any addresses before addresses it has never logged in from
# are refused (rotating addresses); the owner's known addresses still work.
AXES_ACCOUNT_FAILURE_LIMIT = env_int("AXES_ACCOUNT_FAILURE_LIMIT", 20)
# A known address unused this long stops counting as known (auth_cleanup removes it).
KNOWN_ADDRESS_RETENTION_DAYS = env_int("KNOWN_ADDRESS_RETENTION_DAYS", 180)
if KNOWN_ADDRESS_RETENTION_DAYS < 1:
    raise SystemExit("error: KNOWN_ADDRESS_RETENTION_DAYS must be 1 or more")
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
# /auth/verify and /auth/introspect, per client IP: resource servers ask on every request.
RATELIMIT_VERIFY = env_str("RATELIMIT_VERIFY", "600/m")
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

# --- CORS (django-cors-headers): browser apps on other origins -------------------------
# Listed origins only (never "*"); tokens travel in headers, so no cookies (credentials).
CORS_ALLOWED_ORIGINS = env_origins("CORS_ALLOWED_ORIGINS")
CORS_URLS_REGEX = r"^/api/v1/"
CORS_ALLOW_CREDENTIALS = False
CORS_ALLOW_METHODS = ["DELETE", "GET", "OPTIONS", "PATCH", "POST"]
CORS_ALLOW_HEADERS = ["authorization", "content-type", "x-api-key", "x-request-id"]
CORS_EXPOSE_HEADERS = ["Retry-After", "X-Request-ID"]
CORS_PREFLIGHT_MAX_AGE = 600

# --- Audit trail --------------------------------------------------------------------
# Independent hash chains, each with its own head row: writers on different chains never wait
# for each other. An account's events stay in one chain (chosen by a hash of its id).
AUDIT_CHAINS = env_int("AUDIT_CHAINS", 16)
if not 1 <= AUDIT_CHAINS <= 1024:
    raise SystemExit(f"error: AUDIT_CHAINS must be between 1 and 1024, not {AUDIT_CHAINS}")

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
# A failed mail is tried again after MAIL_RETRY_SECONDS, then twice, four times … that long,
# MAIL_MAX_ATTEMPTS times in all (database task backend only): 30 s … 8 min, within the hour a
# reset link lives.
MAIL_MAX_ATTEMPTS = env_int("MAIL_MAX_ATTEMPTS", 5)
MAIL_RETRY_SECONDS = env_int("MAIL_RETRY_SECONDS", 30)

# --- Background work (django-tasks) ---------------------------------------------------
TASK_BACKENDS = {
    # Runs a task inside the call that enqueues it: local development and tests.
    "immediate": "django_tasks.backends.immediate.ImmediateBackend",
    # Stores it for `manage.py db_worker`: survives restarts, retried, off the request path.
    "database": "django_tasks_db.DatabaseBackend",
}


def tasks_settings(backend: str) -> dict:
    return {"default": {"BACKEND": TASK_BACKENDS[backend], "QUEUES": ["default"]}}


TASKS_BACKEND = env_choice("TASKS_BACKEND", "immediate", tuple(TASK_BACKENDS))
TASKS = tasks_settings(TASKS_BACKEND)

# --- Security headers that hold in every profile -------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
# Database sessions tagged with their user, so revoking a user's sessions ends their admin
# logins too (accounts.cookie_sessions).
SESSION_ENGINE = "accounts.cookie_sessions"
CSRF_COOKIE_HTTPONLY = True
# Request bodies beyond this are refused before they are parsed.
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024

# --- Logging and metrics ------------------------------------------------------------
# `plain` for a terminal, `json` (one object a line, the default in production) for shippers.
LOG_FORMAT = env_str("LOG_FORMAT", "plain")
LOGGING = logging_settings(log_format=LOG_FORMAT, level=env_str("LOG_LEVEL", "INFO"))
# Empty: /metrics answers 404. Set: Prometheus must send `Authorization: Bearer <token>`.
METRICS_TOKEN = env_str("METRICS_TOKEN")

# Usernames are unique case-insensitively (a functional unique constraint on LOWER(username)),
# which is stricter than the plain unique=True this check looks for.
# axes looks for its middleware by exact name; config.middleware.HtmlOnlyAxesMiddleware is it,
# skipped only on /api/ where lockouts answer in JSON.
SILENCED_SYSTEM_CHECKS = ["auth.W004", "axes.W002"]
