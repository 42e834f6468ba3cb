"""The settings profiles as an operator meets them: run manage.py with a given environment."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "DJANGO_SECRET_KEY": "x" * 60 + "-production-like-secret-key-for-the-check",
    "JWT_SIGNING_KEY": "y" * 48,
    "REDIS_URL": "redis://127.0.0.1:6399/0",
    "DATABASE_URL": "sqlite:////tmp/gatehouse-check.sqlite3",
    "DJANGO_ALLOWED_HOSTS": "auth.example.com",
    "PUBLIC_BASE_URL": "https://auth.example.com",
}
_CLEAN = {
    k: v
    for k, v in os.environ.items()
    if not k.startswith(("DJANGO_", "JWT_", "REDIS_", "DATABASE_", "PUBLIC_BASE_URL"))
}


def manage(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**_CLEAN, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def last_json_line(result: subprocess.CompletedProcess):
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_production_passes_check_deploy():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize("missing", ["DJANGO_SECRET_KEY", "PUBLIC_BASE_URL"])
def test_production_refuses_to_start_without_a_required_variable(missing):
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != missing}
    result = manage("check", env=env)
    assert result.returncode == 1
    assert result.stderr.strip() == f"error: {missing} must be set in production (see README, Configuration)"


def test_production_refuses_to_start_without_redis_url_or_sentinels():
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "REDIS_URL"}
    result = manage("check", env=env)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "error: REDIS_URL (or REDIS_SENTINELS and REDIS_SENTINEL_MASTER) must be set in production"
        " (see README, Configuration)"
    )


SENTINEL_ENV = {
    **{k: v for k, v in PRODUCTION_ENV.items() if k != "REDIS_URL"},
    "REDIS_SENTINELS": "10.0.0.1:26379, sentinel-b:26380",
    "REDIS_SENTINEL_MASTER": "gatehouse",
}


def test_production_with_redis_sentinel_passes_check_deploy_and_configures_both_caches():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=SENTINEL_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    probe = (
        "import json; from django.conf import settings as s;"
        "print(json.dumps({a: [c['BACKEND'], c['LOCATION'], c.get('KEY_FUNCTION'), c['OPTIONS']]"
        " for a, c in s.CACHES.items()}))"
    )
    result = manage("shell", "-c", probe, env=SENTINEL_ENV)
    caches = last_json_line(result)
    options = {
        "CLIENT_CLASS": "django_redis.client.SentinelClient",
        "CONNECTION_FACTORY": "django_redis.pool.SentinelConnectionFactory",
        "CONNECTION_POOL_CLASS": "config.redis_sentinel.EpochCheckedSentinelPool",
        "SENTINELS": [["10.0.0.1", 26379], ["sentinel-b", 26380]],
        "SOCKET_CONNECT_TIMEOUT": 0.5,
        "SOCKET_TIMEOUT": 0.5,
        "IGNORE_EXCEPTIONS": True,
    }
    location, key_function = ["redis://gatehouse/0"], "config.redis_sentinel.make_key"
    assert caches == {
        "default": ["django_redis.cache.RedisCache", location, key_function, options],
        "ratelimit": ["config.cache_backends.RateLimitRedisCache", location, key_function, options],
    }


@pytest.mark.parametrize(
    ("env", "error"),
    [
        (
            {"REDIS_SENTINELS": "127.0.0.1:26379"},
            "REDIS_SENTINELS and REDIS_SENTINEL_MASTER must be set together",
        ),
        (
            {"REDIS_SENTINEL_MASTER": "gatehouse"},
            "REDIS_SENTINELS and REDIS_SENTINEL_MASTER must be set together",
        ),
        (
            {"REDIS_SENTINELS": "127.0.0.1", "REDIS_SENTINEL_MASTER": "g"},
            "REDIS_SENTINELS entries must be host:port, not '127.0.0.1'",
        ),
        (
            {"REDIS_SENTINELS": "h:1", "REDIS_SENTINEL_MASTER": "g", "REDIS_URL": "redis://h:6379/0"},
            "set REDIS_URL or REDIS_SENTINELS, not both",
        ),
        (
            {"DATABASE_POOL_MODE": "statement"},
            "DATABASE_POOL_MODE must be none or transaction, not 'statement'",
        ),
        ({"KNOWN_ADDRESS_RETENTION_DAYS": "0"}, "KNOWN_ADDRESS_RETENTION_DAYS must be 1 or more"),
        (
            {"KNOWN_ADDRESS_RETENTION_DAYS": "half"},
            "KNOWN_ADDRESS_RETENTION_DAYS must be a whole number, not 'half'",
        ),
    ],
)
def test_bad_scale_out_settings_are_one_line_errors(env, error):
    result = manage("check", env=env)
    assert result.returncode == 1
    assert result.stderr.strip() == f"error: {error}"


def test_transaction_pool_mode_keeps_no_session_state_on_the_connection():
    """PgBouncer in transaction mode: no prepared statements, no named cursors, no startup options."""
    probe = (
        "import json; from django.db import connection as c;"
        "print(json.dumps([c.settings_dict['OPTIONS'], c.settings_dict['DISABLE_SERVER_SIDE_CURSORS'],"
        " c.get_connection_params()['prepare_threshold']]))"
    )
    env = {"DATABASE_URL": "postgres://gatehouse@127.0.0.1:6432/gatehouse"}
    pooled = last_json_line(manage("shell", "-c", probe, env={**env, "DATABASE_POOL_MODE": "transaction"}))
    assert pooled == [{"connect_timeout": 3, "prepare_threshold": None}, True, None]
    direct = last_json_line(manage("shell", "-c", probe, env=env))
    assert direct == [{"connect_timeout": 3, "options": "-c statement_timeout=15000"}, False, None]


def test_production_needs_jwt_signing_key_only_for_hs256():
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "JWT_SIGNING_KEY"}
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    result = manage("check", env={**env, "JWT_ALGORITHM": "HS256"})
    assert result.returncode == 1
    assert (
        result.stderr.strip()
        == "error: JWT_SIGNING_KEY must be set in production (see README, Configuration)"
    )


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "JWT_ALGORITHM",
            "none",
            "error: JWT_ALGORITHM must be one of EdDSA, ES256, RS256, HS256, not 'none'",
        ),
        (
            "JWT_ALGORITHM",
            "HS512",
            "error: JWT_ALGORITHM must be one of EdDSA, ES256, RS256, HS256, not 'HS512'",
        ),
        (
            "PUBLIC_BASE_URL",
            "auth.example.com",
            "error: PUBLIC_BASE_URL must be an absolute http(s) URL like https://id.example.com, "
            "not 'auth.example.com'",
        ),
        (
            "JWT_KEY_ENCRYPTION_KEYS",
            "not-a-fernet-key",
            "error: JWT_KEY_ENCRYPTION_KEYS must be comma-separated Fernet keys "
            "(32 url-safe base64-encoded bytes each)",
        ),
        ("JWT_KEY_PUBLISH_SECONDS", "-1", "error: JWT_KEY_PUBLISH_SECONDS must be 0 or more, not -1"),
        (
            "JWT_KEY_PUBLISH_SECONDS",
            "ten",
            "error: JWT_KEY_PUBLISH_SECONDS must be a whole number, not 'ten'",
        ),
    ],
)
def test_bad_signing_settings_are_one_line_errors(variable, value, message):
    for env in ({variable: value}, {**PRODUCTION_ENV, variable: value}):
        result = manage("check", env=env)
        assert result.returncode == 1
        assert result.stderr.strip() == message


def test_issuer_defaults_to_public_base_url_and_previous_issuers_to_gatehouse():
    probe = "from django.conf import settings; print(settings.JWT_ISSUER, settings.JWT_PREVIOUS_ISSUERS)"
    result = manage(
        "shell", "-c", probe, env={**PRODUCTION_ENV, "PUBLIC_BASE_URL": "https://id.example.com/"}
    )
    assert result.stdout.strip().splitlines()[-1] == "https://id.example.com ['gatehouse']", result.stderr
    result = manage("shell", "-c", probe, env={"JWT_ISSUER": "urn:x", "JWT_PREVIOUS_ISSUERS": "a, b"})
    assert result.stdout.strip().splitlines()[-1] == "urn:x ['a', 'b']", result.stderr


def test_production_refuses_a_short_jwt_key():
    result = manage("check", env={**PRODUCTION_ENV, "JWT_SIGNING_KEY": "password"})
    assert result.returncode == 1
    assert "JWT_SIGNING_KEY must be at least 32 characters" in result.stderr


@pytest.mark.parametrize(
    "url", ["auth.example.com", "ftp://auth.example.com", "https://", "https://a.example/?x=1"]
)
def test_production_refuses_a_public_base_url_that_is_not_an_absolute_http_url(url):
    result = manage("check", env={**PRODUCTION_ENV, "PUBLIC_BASE_URL": url})
    assert result.returncode == 1
    assert result.stderr.strip().startswith("error: PUBLIC_BASE_URL must be an absolute http(s) URL")


@pytest.mark.parametrize("module", ["config.wsgi", "config.asgi"])
def test_wsgi_and_asgi_default_to_production_and_refuse_to_start_unconfigured(module):
    """A server started without DJANGO_SETTINGS_MODULE must not serve with DEBUG on."""
    result = subprocess.run(
        [sys.executable, "-c", f"import {module}"],
        cwd=ROOT,
        env=_CLEAN,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "error: DJANGO_SECRET_KEY must be set in production (see README, Configuration)"
    )


@pytest.mark.parametrize("module", ["config.wsgi", "config.asgi"])
def test_wsgi_and_asgi_serve_the_profile_they_are_given(module):
    probe = (
        f"import {module}; from django.conf import settings; print(settings.SETTINGS_MODULE, settings.DEBUG)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env={**_CLEAN, **PRODUCTION_ENV},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.split() == ["config.settings.production", "False"], result.stderr


def test_a_bad_ipv6_prefix_length_is_a_one_line_error():
    result = manage("check", env={"IPV6_PREFIX_LENGTH": "129"})
    assert result.returncode == 1
    assert result.stderr.strip() == "error: IPV6_PREFIX_LENGTH must be between 1 and 128, not 129"


def test_local_profile_needs_no_variables():
    result = manage("check", env={"DJANGO_SETTINGS_MODULE": "config.settings.local"})
    assert result.returncode == 0, result.stderr


def test_bad_numbers_in_the_environment_are_one_line_errors():
    result = manage("check", env={"ACCESS_TOKEN_LIFETIME_SECONDS": "fifteen"})
    assert result.returncode == 1
    assert (
        result.stderr.strip() == "error: ACCESS_TOKEN_LIFETIME_SECONDS must be a whole number, not 'fifteen'"
    )


def test_production_serves_collected_static_files(tmp_path):
    """collectstatic works in production and WhiteNoise serves the admin's and Swagger UI's files."""
    env = {**PRODUCTION_ENV, "DJANGO_SECURE_SSL_REDIRECT": "false"}
    result = manage("collectstatic", "--no-input", "-v", "0", env=env)
    assert result.returncode == 0, result.stderr
    probe = (
        "from django.test import Client;"
        "c = Client(HTTP_HOST='auth.example.com');"
        "print(c.get('/static/admin/css/base.css').status_code,"
        " c.get('/api/docs').status_code,"
        " b'cdn.jsdelivr' in c.get('/api/docs').content)"
    )
    result = manage("shell", "-c", probe, env=env)
    assert result.stdout.strip().splitlines()[-1].split() == ["200", "200", "False"], result.stderr


def test_production_queues_tasks_in_the_database_and_local_runs_them_at_once():
    probe = "from django_tasks import task_backends; b = task_backends['default']; print(type(b).__module__ + '.' + type(b).__name__)"
    production = manage("shell", "-c", probe, env=PRODUCTION_ENV)
    local = manage("shell", "-c", probe, env={"DJANGO_SETTINGS_MODULE": "config.settings.local"})
    assert production.stdout.strip().splitlines()[-1] == "django_tasks_db.backend.DatabaseBackend", (
        production.stderr
    )
    assert local.stdout.strip().splitlines()[-1] == "django_tasks.backends.immediate.ImmediateBackend", (
        local.stderr
    )
    wrong = manage("check", env={**PRODUCTION_ENV, "TASKS_BACKEND": "celery"})
    assert wrong.returncode == 1
    assert wrong.stderr.strip() == "error: TASKS_BACKEND must be one of immediate, database, not 'celery'"
