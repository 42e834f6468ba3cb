"""The MFA login's attempt counter across real processes: gunicorn workers on PostgreSQL."""

import subprocess
import threading
from http import HTTPStatus

import pytest

from accounts.errors import MFA_CODE_INVALID, MFA_TOKEN_INVALID
from accounts.models import MfaChallenge
from accounts.tests.factories import PASSWORD, UserFactory
from accounts.tests.helpers import mfa_enrol
from tests.conftest import UNLIMITED, start_gunicorn

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def server(transactional_db, tmp_path):
    # Roomy lockout limits: this test is about the mfa_token's own counter.
    live = start_gunicorn(
        tmp_path, extra_env={**UNLIMITED, "AXES_FAILURE_LIMIT": "1000", "AXES_IP_FAILURE_LIMIT": "4000"}
    )
    yield live
    live.process.terminate()
    try:
        live.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        live.process.kill()


def test_concurrent_wrong_codes_are_counted_exactly_across_workers(server):
    mfa_enrol(UserFactory(username="alice", email="alice@example.com"))
    first = server.post("/api/v1/auth/login", {"username": "alice", "password": PASSWORD}).json()
    racers = 12
    barrier = threading.Barrier(racers)
    details: list = [None] * racers

    def guess(i: int) -> None:
        barrier.wait()
        response = server.post("/api/v1/auth/login/mfa", {"mfa_token": first["mfa_token"], "code": "000000"})
        assert response.status_code == HTTPStatus.UNAUTHORIZED
        details[i] = response.json()["detail"]

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Exactly five guesses were judged; every later one met a dead token.
    assert details.count(MFA_CODE_INVALID) == 5
    assert details.count(MFA_TOKEN_INVALID) == racers - 5
    assert MfaChallenge.objects.get().attempts == 5
