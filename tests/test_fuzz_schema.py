"""Schemathesis against /api/schema as a client of the schema would run it: every check, every
phase (examples, coverage, fuzzing, and stateful through the schema's OpenAPI links), as a
user, as an API key and as an admin.

Bounded (FUZZ_EXAMPLES per operation, default 3; FUZZ_STEPS stateful steps) so it fits in CI:
raise them locally for a deeper run (`FUZZ_EXAMPLES=100 ./scripts/test tests/test_fuzz_schema.py`).

Where the schema cannot say a rule (a password the validators refuse, a taken username, a
scope or rate beyond the owner's role, a spent reset link), a schema-valid body may be a 400:
those operations list 400 among the answers `positive_data_acceptance` accepts, nothing else.
"""

import os

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from django.test import RequestFactory
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from accounts.models import Role, User
from accounts.roles import scopes_for
from accounts.services.sessions import session_login, session_start
from accounts.tests.factories import PASSWORD, UserFactory
from accounts.tests.helpers import mfa_enrol
from accounts.tokens import AMR_PASSWORD_OTP
from apikeys.models import APIKey
from apikeys.services import apikey_create
from core.request import RequestMeta

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "3"))
STEPS = int(os.environ.get("FUZZ_STEPS", "10"))

ACCEPTED = ["2xx", "401", "403", "404", "409", "429"]
# Business rules JSON Schema cannot state; each is a documented 400.
RULES_ONLY_THE_SERVER_KNOWS = [
    "/api/v1/auth/register",  # taken username or email, password validators
    "/api/v1/auth/change-password",  # wrong current password, password validators, history
    "/api/v1/auth/password-reset/confirm",  # the link is invalid or spent
    "/api/v1/api-keys",  # scopes or rate beyond the owner's role
    "/api/v1/auth/logout",  # a refresh token this session was not given
    "/api/v1/admin/audit-logs",  # a cursor the server did not give
    "/api/v1/auth/mfa/totp/setup",  # the account's current password
    "/api/v1/auth/mfa/totp/confirm",  # a code the enrolling device shows now
    "/api/v1/auth/mfa/totp",  # the current password and a current code
    "/api/v1/auth/mfa/recovery-codes",  # the account's current password
    "/api/v1/auth/verify-email",  # a link the server mailed and that is still good
]

CONFIG = SchemathesisConfig.from_dict(
    {
        "generation": {"max-examples": EXAMPLES, "deterministic": True},
        "checks": {"enabled": True},
        "phases": {
            "examples": {"enabled": True},
            "coverage": {"enabled": True},
            "fuzzing": {"enabled": True},
            "stateful": {"enabled": True, "max-steps": STEPS},
        },
        "operations": [
            {
                "include-path": path,
                "checks": {"positive_data_acceptance": {"expected-statuses": [*ACCEPTED, "400"]}},
            }
            for path in RULES_ONLY_THE_SERVER_KNOWS
        ]
        + [
            # DELETE revokes a key and the record stays, revoked (the contract): GET still finds it.
            {"include-path": "/api/v1/api-keys/{key_id}", "checks": {"use_after_free": {"enabled": False}}},
        ],
    }
)

schema = schemathesis.openapi.from_wsgi("/api/schema?format=json", get_wsgi_application(), config=CONFIG)


@pytest.fixture
def keep_test_connection():
    """Like Django's test client: the WSGI app must not close the test transaction's connection."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def _otp_session(user) -> str:
    """The session a two-step (password + TOTP) login opens: one code per 30 s would not last
    the run, and an admin's API sessions need a second factor (MFA_REQUIRED_FOR_ROLES)."""
    with transaction.atomic():
        _session, pair = session_start(
            user=User.objects.get(pk=user.pk), remember_me=False, meta=RequestMeta(), amr=AMR_PASSWORD_OTP
        )
    return pair.access_token


def _login(username: str) -> str:
    request = RequestFactory().post("/api/v1/auth/login")
    _user, pair = session_login(
        request=request, identifier=username, password=PASSWORD, remember_me=False, meta=RequestMeta()
    )
    return pair.access_token


@pytest.fixture(params=["user", "api_key", "admin"])
def credentials(request, db, settings, keep_test_connection):
    """A function giving fresh auth headers per example: a fuzzed logout, password change or key
    revocation must not starve the rest."""
    settings.RATELIMIT_AUTH = "1000000/m"
    settings.RATELIMIT_AUTH_FAILURES = "1000000/m"
    settings.RATELIMIT_BY_ROLE = {role: "1000000/h" for role in Role.values}
    role = Role.ADMIN if request.param == "admin" else Role.USER
    user = UserFactory(username="fuzz-me", email="fuzz-me@example.com", role=role)
    if role == Role.ADMIN:
        mfa_enrol(user)
    UserFactory(username="fuzz-other", email="fuzz-other@example.com")

    if request.param == "api_key":
        made: list = []

        def fresh_key() -> dict:
            # One key until a fuzzed DELETE revokes it (keys per user are capped).
            if not made or APIKey.objects.filter(pk=made[-1][0].pk, revoked_at__isnull=True).count() == 0:
                made.append(apikey_create(owner=user, name="fuzz", scopes=sorted(scopes_for(user.role))))
            return {"X-API-Key": made[-1][1]}

        fresh_key.kind = request.param
        return fresh_key

    def fresh_token() -> dict:
        token = _otp_session(user) if role == Role.ADMIN else _login("fuzz-me")
        return {"Authorization": f"Bearer {token}"}

    fresh_token.kind = request.param
    return fresh_token


def _without_fuzzed_credentials(case) -> None:
    # The fuzzer's own credentials (random X-API-Key values) would turn most cases into 401s;
    # forged credentials are the JWT attack suite's job. Here real ones go in.
    if case.headers:
        case.headers = {
            k: v for k, v in case.headers.items() if k.lower() not in ("x-api-key", "authorization")
        }


@pytest.mark.django_db
@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_every_operation_conforms_with_every_check(case, credentials):
    if credentials.kind != "admin" and case.operation.path.startswith("/api/v1/admin/"):
        return  # a 403 for them, checked by the authorization tests; the admin run fuzzes these
    _without_fuzzed_credentials(case)
    case.call_and_validate(headers=credentials())


@pytest.mark.django_db
def test_stateful_walks_through_the_links_conform(credentials):
    headers = credentials

    class Walk(schema.as_state_machine()):
        def before_call(self, case):
            if not (case.headers or {}).get("Authorization", "").startswith("Bearer ey"):
                _without_fuzzed_credentials(case)  # (a link from login hands over its token)

        def get_call_kwargs(self, case):
            if (case.headers or {}).get("Authorization", "").startswith("Bearer ey"):
                return {}
            return {"headers": headers()}

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            # As call_and_validate does: the checks know which headers carried the credentials.
            case.validate_response(
                response,
                additional_checks=additional_checks,
                headers=kwargs.get("headers"),
                transport_kwargs=kwargs,
                recorder=getattr(self, "recorder", None),
            )

    Walk.run(
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
        )
    )
