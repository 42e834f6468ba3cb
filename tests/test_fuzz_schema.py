"""Schemathesis against /api/schema, every operation, authenticated as an admin.

Bounded (FUZZ_EXAMPLES per operation, default 25) so it fits in CI. Checks: no 5xx, every
response conforms to the schema (status code documented, content type, body shape), and the
schema itself is valid OpenAPI.
"""

import os

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import RequestFactory
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.models import Role
from accounts.services.sessions import session_login
from accounts.tests.factories import PASSWORD, UserFactory
from core.request import RequestMeta

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))

schema = schemathesis.openapi.from_wsgi("/api/schema?format=json", get_wsgi_application())

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


@pytest.fixture
def keep_test_connection():
    """Like Django's test client: the WSGI app must not close the test transaction's connection."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def admin_token(db, settings, keep_test_connection):
    settings.RATELIMIT_AUTH = "1000000/m"
    settings.RATELIMIT_BY_ROLE = {**settings.RATELIMIT_BY_ROLE, "admin": "1000000/h"}
    UserFactory(username="fuzz-admin", email="fuzz-admin@example.com", role=Role.ADMIN)
    UserFactory(username="fuzz-other", email="fuzz-other@example.com")

    def fresh() -> str:
        # A fresh session per example: a fuzzed logout or password change must not starve the
        # rest. (Through the service: Django's test client would reconnect the signal above.)
        request = RequestFactory().post("/api/v1/auth/login")
        _user, pair = session_login(
            request=request, identifier="fuzz-admin", password=PASSWORD, remember_me=False, meta=RequestMeta()
        )
        return pair.access_token

    return fresh


@pytest.mark.django_db
@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_every_operation_conforms(case, admin_token):
    # The fuzzer's own credentials (random X-API-Key values) would turn most cases into 401s;
    # forged credentials are the JWT attack suite's job. Here the admin's token goes in.
    if case.headers:
        case.headers = {
            k: v for k, v in case.headers.items() if k.lower() not in ("x-api-key", "authorization")
        }
    case.call_and_validate(headers={"Authorization": f"Bearer {admin_token()}"}, checks=CHECKS)
