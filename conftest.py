import io

import pytest
from django.core.cache import cache
from django.core.management import call_command
from rest_framework.test import APIClient

from accounts.models import Role
from accounts.tests.factories import PASSWORD, UserFactory
from accounts.tests.helpers import bearer_client, login, mfa_enrol


@pytest.fixture(autouse=True)
def _clean_cache():
    """Each test starts with an empty cache: auth state and rate-limit counters included."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _fresh_signing_keys():
    """Each test re-reads the key table: a key made in a rolled-back test must not sign the next."""
    from accounts import signing

    signing.keyset_invalidate()
    yield
    signing.keyset_invalidate()


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def password() -> str:
    return PASSWORD


@pytest.fixture
def user(db):
    return UserFactory(username="alice", email="alice@example.com")


@pytest.fixture
def admin_user(db):
    """An admin as every admin must be (MFA_REQUIRED_FOR_ROLES): enrolled in TOTP MFA.
    `login()` then does both steps, and `staff_login()` gives a verified admin cookie session."""
    admin = UserFactory(username="root", email="root@example.com", role=Role.ADMIN)
    mfa_enrol(admin)
    return admin


@pytest.fixture
def tokens(api_client, user) -> dict:
    return login(api_client, user.username)


@pytest.fixture
def auth_client(tokens) -> APIClient:
    return bearer_client(tokens["access_token"])


@pytest.fixture
def run_command(monkeypatch):
    """Run a management command; returns what it wrote to stdout. `stdin=` feeds its input."""

    def run(*args: str, stdin: str | None = None) -> str:
        if stdin is not None:
            monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        out = io.StringIO()
        call_command(*args, stdout=out)
        return out.getvalue()

    return run
