"""The audit chains under concurrent writers: gunicorn workers on PostgreSQL."""

import io
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus

import pytest
from django.core.management import call_command

from audit.models import AuditEvent
from tests.conftest import start_gunicorn

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


def test_concurrent_failed_logins_leave_exactly_that_many_events_and_an_intact_chain(tmp_path):
    server = start_gunicorn(tmp_path, workers=2, extra_env={"RATELIMIT_ENABLE": "false"})
    attempts = 60
    try:

        def fail(i: int) -> int:
            response = server.post(
                "/api/v1/auth/login", {"username": f"nobody{i}", "password": "not the password at all"}
            )
            return response.status_code

        with ThreadPoolExecutor(max_workers=12) as pool:
            statuses = list(pool.map(fail, range(attempts)))
    finally:
        server.process.terminate()
        server.process.wait(timeout=10)

    assert all(status in (HTTPStatus.UNAUTHORIZED, HTTPStatus.TOO_MANY_REQUESTS) for status in statuses), (
        statuses
    )
    assert AuditEvent.objects.filter(event="auth.login_failed").count() == attempts
    # Positions are per chain (AUDIT_CHAINS): the usernames spread the attempts over several.
    seqs_by_chain: dict[int, list[int]] = {}
    for chain, seq in AuditEvent.objects.order_by("chain", "seq").values_list("chain", "seq"):
        seqs_by_chain.setdefault(chain, []).append(seq)
    assert len(seqs_by_chain) > 1
    for seqs in seqs_by_chain.values():
        assert seqs == list(range(1, len(seqs) + 1))  # no lost or duplicated positions
    out = io.StringIO()
    call_command("audit_verify", stdout=out)
    assert f"{sum(map(len, seqs_by_chain.values()))} events verified" in out.getvalue()
