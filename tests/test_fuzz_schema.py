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
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.models import Role, User
from accounts.services.sessions import session_start
from accounts.tests.factories import UserFactory
from accounts.tests.helpers import mfa_enrol
from accounts.tokens import AMR_PASSWORD_OTP
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
    admin = UserFactory(username="fuzz-admin", email="fuzz-admin@example.com", role=Role.ADMIN)
    mfa_enrol(admin)  # an admin's API sessions need a second factor (MFA_REQUIRED_FOR_ROLES)
    UserFactory(username="fuzz-other", email="fuzz-other@example.com")

    def fresh() -> str:
        # A fresh session per example: a fuzzed logout or password change must not starve the
        # rest. (Through the service: Django's test client would reconnect the signal above.)
        # The session a two-step login opens (one TOTP code per 30 s would not last the run).
        with transaction.atomic():
            _session, pair = session_start(
                user=User.objects.get(pk=admin.pk),
                remember_me=False,
                meta=RequestMeta(),
                amr=AMR_PASSWORD_OTP,
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
