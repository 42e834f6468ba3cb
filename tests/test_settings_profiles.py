"""The settings profiles as an operator meets them: run manage.py with a given environment."""

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
_CLEAN = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "JWT_", "REDIS_", "DATABASE_"))}


def manage(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**_CLEAN, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_passes_check_deploy():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize("missing", ["DJANGO_SECRET_KEY", "JWT_SIGNING_KEY", "REDIS_URL", "PUBLIC_BASE_URL"])
def test_production_refuses_to_start_without_a_required_variable(missing):
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != missing}
    result = manage("check", env=env)
    assert result.returncode == 1
    assert result.stderr.strip() == f"error: {missing} must be set in production (see README, Configuration)"


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
