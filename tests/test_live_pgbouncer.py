"""Through PgBouncer in transaction pooling mode: gunicorn and the commands, DATABASE_POOL_MODE=transaction.

scripts/test starts PgBouncer (pool_mode = transaction, a wildcard database entry) in front of
the suite's PostgreSQL; these tests point DATABASE_URL at it, at the test database.
"""

import json
import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus

import pytest
import requests

from accounts.models import Role
from accounts.tests.factories import PASSWORD, UserFactory
from accounts.tests.helpers import mfa_enrol, totp_code_unused
from tests.conftest import ROOT, UNLIMITED, pgbouncer_database_url, start_gunicorn, stop_gunicorn

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


def pgbouncer_admin(command: str) -> None:
    """A command on PgBouncer's admin console (simple query protocol: psql)."""
    cmd = [
        f"{os.environ['GH_PG_BIN']}/psql",
        "-h",
        "127.0.0.1",
        "-p",
        os.environ["GH_PGBOUNCER_PORT"],
        "-U",
        "gatehouse",
        "-d",
        "pgbouncer",
        "-qc",
        command,
    ]
    subprocess.run(cmd, check=True, capture_output=True, timeout=30)


@pytest.fixture(scope="module")
def bounced_env(django_db_setup, django_db_blocker):
    env = {"DATABASE_URL": pgbouncer_database_url(), "DATABASE_POOL_MODE": "transaction"}
    yield env
    # PgBouncer keeps idle server connections to the test database; let pytest-django drop it.
    from django.db import connection

    pgbouncer_admin(f'KILL "{connection.settings_dict["NAME"]}"')
    pgbouncer_admin(f'RESUME "{connection.settings_dict["NAME"]}"')


@pytest.fixture
def bounced(bounced_env, tmp_path_factory):
    """Per test: each test's database is emptied afterwards, signing keys included, and a
    server kept across tests would sign with a key the next test's database no longer has."""
    server = start_gunicorn(tmp_path_factory.mktemp("pgbouncer"), extra_env={**UNLIMITED, **bounced_env})
    yield server
    stop_gunicorn(server)


def manage(*args: str, env: dict, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", **env},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def login(server, username: str) -> dict:
    response = server.post("/api/v1/auth/login", {"username": username, "password": PASSWORD})
    assert response.status_code == HTTPStatus.OK, response.text
    return response.json()


def test_session_flow_and_refresh_race_work_through_pgbouncer_transaction_pooling(bounced):
    register = bounced.post(
        "/api/v1/auth/register", {"username": "alice", "email": "alice@example.com", "password": PASSWORD}
    )
    assert register.status_code == HTTPStatus.CREATED, register.text
    tokens = login(bounced, "alice")
    me = bounced.get("/api/v1/auth/me", headers=bearer(tokens["access_token"]))
    assert me.status_code == HTTPStatus.OK and me.json()["username"] == "alice"

    # A chain of refreshes runs the same statements many times (psycopg would prepare them
    # after the 5th run; a prepared statement does not survive a change of server connection).
    for _ in range(8):
        refreshed = bounced.post("/api/v1/auth/refresh", {"refresh_token": tokens["refresh_token"]})
        assert refreshed.status_code == HTTPStatus.OK, refreshed.text
        tokens = refreshed.json()

    racers = 10
    barrier = threading.Barrier(racers)
    results: list = [None] * racers

    def refresh(i: int) -> None:
        barrier.wait()
        response = bounced.post("/api/v1/auth/refresh", {"refresh_token": tokens["refresh_token"]})
        results[i] = (response.status_code, response.json())

    threads = [threading.Thread(target=refresh, args=(i,)) for i in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [body for status, body in results if status == HTTPStatus.OK]
    assert len(winners) == 1, results
    assert {body["code"] for status, body in results if status != HTTPStatus.OK} == {"token_reused"}
    reused = bounced.get("/api/v1/auth/me", headers=bearer(winners[0]["access_token"]))
    assert reused.status_code == HTTPStatus.UNAUTHORIZED

    again = login(bounced, "alice")
    logout = bounced.post("/api/v1/auth/logout", {}, headers=bearer(again["access_token"]))
    assert logout.status_code == HTTPStatus.NO_CONTENT
    revoked = bounced.get("/api/v1/auth/me", headers=bearer(again["access_token"]))
    assert revoked.status_code == HTTPStatus.UNAUTHORIZED and revoked.json()["code"] == "token_revoked"


def test_admin_api_and_django_admin_lists_work_through_pgbouncer(bounced):
    root = UserFactory(username="root", email="root@example.com", role=Role.ADMIN)
    device, codes = mfa_enrol(root)  # admins log in with a second factor (MFA_REQUIRED_FOR_ROLES)
    UserFactory(username="bob", email="bob@example.com")
    first = login(bounced, "root")
    second = bounced.post("/api/v1/auth/login/mfa", {"mfa_token": first["mfa_token"], "code": codes[0]})
    assert second.status_code == HTTPStatus.OK, second.text
    headers = bearer(second.json()["access_token"])
    users = bounced.get("/api/v1/admin/users?search=bob", headers=headers)
    assert users.status_code == HTTPStatus.OK and [u["username"] for u in users.json()["results"]] == ["bob"]
    audit = bounced.get("/api/v1/admin/audit-logs?event=auth.login_succeeded", headers=headers)
    assert audit.status_code == HTTPStatus.OK and audit.json()["results"], audit.text

    browser = requests.Session()
    browser.get(bounced.url + "/admin/login/", timeout=30)
    signed_in = browser.post(
        bounced.url + "/admin/login/?next=/admin/",
        data={
            "username": "root",
            "password": PASSWORD,
            "otp_token": totp_code_unused(device),
            "csrfmiddlewaretoken": browser.cookies["csrftoken"],
            "next": "/admin/",
        },
        headers={"Referer": bounced.url + "/admin/login/"},
        timeout=30,
    )
    assert signed_in.status_code == HTTPStatus.OK and signed_in.url.endswith("/admin/"), signed_in.url
    for page in ("/admin/accounts/user/", "/admin/accounts/session/", "/admin/audit/auditevent/"):
        response = browser.get(bounced.url + page, timeout=30)
        assert response.status_code == HTTPStatus.OK, (page, response.status_code)
        assert "root" in response.text, page


def test_operator_commands_work_through_pgbouncer(bounced_env):
    commands = [["auth_cleanup"], ["audit_verify"]]
    with ThreadPoolExecutor(max_workers=len(commands)) as pool:
        cleanup, verify = pool.map(lambda command: manage(*command, env=bounced_env), commands)
    assert cleanup.returncode == 0 and ": removed " in cleanup.stdout, cleanup.stdout + cleanup.stderr
    assert verify.returncode == 0 and "events verified" in verify.stdout, verify.stdout + verify.stderr


def test_pgbouncer_connections_prepare_nothing_and_get_the_statement_timeout_from_the_role(bounced_env):
    UserFactory(username="carol", email="carol@example.com")
    probe = (
        "import json; from django.core.management import call_command;"
        " from django.db import connection, transaction; from accounts.models import User\n"
        "for _ in range(12): list(User.objects.filter(username='nobody'))\n"
        "for _ in range(12):\n"
        "    with transaction.atomic(): list(User.objects.filter(username='nobody'))\n"
        "call_command('list_users'); call_command('audit_export')  # .iterator(), no named cursor\n"
        "with connection.cursor() as cursor:\n"
        "    cursor.execute('SHOW statement_timeout'); timeout = cursor.fetchone()[0]\n"
        "    cursor.execute('SELECT count(*) FROM pg_prepared_statements'); prepared = cursor.fetchone()[0]\n"
        "print(json.dumps([connection.connection.prepare_threshold, timeout, prepared]))"
    )
    result = manage("shell", "-c", probe, env=bounced_env)
    assert result.returncode == 0, result.stderr
    assert "carol" in result.stdout
    assert json.loads(result.stdout.strip().splitlines()[-1]) == [None, "15s", 0]


def test_without_transaction_pool_mode_pgbouncer_refuses_the_startup_options(bounced_env):
    result = manage(
        "shell",
        "-c",
        "from django.db import connection; connection.ensure_connection()",
        env={**bounced_env, "DATABASE_POOL_MODE": "none"},
    )
    assert result.returncode != 0
    assert "unsupported startup parameter: options" in result.stderr
