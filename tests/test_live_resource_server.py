"""A resource server that trusts Gatehouse, run the way users run it.

Gatehouse under gunicorn on PostgreSQL + Redis (its PUBLIC_BASE_URL is its own address, so the
discovery document's URLs are reachable), and the example inference app
(clients/python/examples/inference_app.py) under uvicorn, twice: one instance checks access
tokens locally against the JWKS (the default), the other introspects every credential with a
short answer cache. Every request the apps make to Gatehouse carries the client's User-Agent,
so Gatehouse's access log counts them.

The stack starts once for the module (the tests run in file order; the key rotation comes
last).
"""

import base64
import hashlib
import hmac
import json
import os
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from django.core.management import call_command
from django.db import connection

from accounts import signing
from accounts.models import Role
from accounts.tests.factories import PASSWORD, UserFactory
from apikeys.services import apikey_create
from tests.conftest import ROOT, UNLIMITED, LiveServer, _free_port, start_gunicorn

# The module's rows are made by the `stack` fixture, committed, and flushed at its end. Each
# test only reads in the test process (inside a transaction that is rolled back), so the mark
# is the plain one: a transactional test would flush the stack's rows after the first test.
pytestmark = [pytest.mark.live, pytest.mark.django_db]

EXAMPLE_DIR = ROOT / "clients" / "python" / "examples"
# The introspecting app trusts an answer this long: less than the one second the contract
# allows for a revocation to show.
INTROSPECTION_CACHE_SECONDS = 0.5
PUBLISH_SECONDS = 2
DISCOVERY = ("GET", "/.well-known/oauth-authorization-server")
JWKS = ("GET", "/.well-known/jwks.json")
CLIENT_REQUEST = re.compile(
    r'"(?P<method>[A-Z]+) (?P<path>\S+) HTTP/[\d.]+" (?P<status>\d{3}) .*"gatehouse-client/'
)


@dataclass
class App:
    url: str
    process: subprocess.Popen
    log: Path

    def predict(self, credential: str | None = None, *, api_key: bool = False) -> requests.Response:
        headers = {}
        if credential is not None:
            headers = {"X-API-Key": credential} if api_key else {"Authorization": f"Bearer {credential}"}
        return requests.post(self.url + "/predict", json={"inputs": [1, 2, 3]}, headers=headers, timeout=30)


@dataclass
class Stack:
    gatehouse: LiveServer
    local: App  # access tokens checked against the JWKS
    introspecting: App  # every credential sent to /api/v1/auth/introspect
    env: dict  # the environment Gatehouse runs with (for manage.py)
    developer_key: str
    user_key: str

    def login(self, username: str) -> dict:
        response = self.gatehouse.post("/api/v1/auth/login", {"username": username, "password": PASSWORD})
        assert response.status_code == HTTPStatus.OK, response.text
        return response.json()

    def client_calls(self) -> list[tuple[str, str]]:
        """(method, path) of every request the apps made to Gatehouse, from its access log."""
        return [
            (match["method"], match["path"].split("?")[0])
            for line in self.gatehouse.log.read_text(errors="replace").splitlines()
            if (match := CLIENT_REQUEST.search(line))
        ]

    def settled_client_calls(self) -> list[tuple[str, str]]:
        """client_calls once the log has stopped growing (gunicorn logs after it answers)."""
        calls = self.client_calls()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            time.sleep(0.3)
            again = self.client_calls()
            if again == calls:
                return calls
            calls = again
        return calls


def start_app(tmp_path: Path, extra_env: dict) -> App:
    """The example app under uvicorn, configured like the module docstring says."""
    port = _free_port()
    log = tmp_path / f"inference-{port}.log"
    env = {**os.environ, **extra_env}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "inference_app:app",
            "--app-dir",
            str(EXAMPLE_DIR),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    return App(f"http://127.0.0.1:{port}", process, log)


def wait_until_healthy(app: App) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if app.process.poll() is not None:
            break
        try:
            if requests.get(app.url + "/health", timeout=5).status_code == HTTPStatus.OK:
                return
        except requests.RequestException:
            time.sleep(0.2)
    app.process.kill()
    pytest.fail(f"the inference app did not start:\n{app.log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def stack(django_db_setup, django_db_blocker, tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("resource-server")
    processes: list[subprocess.Popen] = []
    try:
        with django_db_blocker.unblock():
            developer = UserFactory(username="dev", email="dev@example.com", role=Role.DEVELOPER)
            user = UserFactory(username="plain", email="plain@example.com", role=Role.USER)
            robot = UserFactory(username="robot", email="robot@example.com", role=Role.SERVICE_ACCOUNT)
            _row, introspection_key = apikey_create(
                owner=robot, name="inference api", scopes=["tokens:introspect"]
            )
            _row, developer_key = apikey_create(owner=developer, name="notebook", scopes=["profile:read"])
            _row, user_key = apikey_create(owner=user, name="script", scopes=["profile:read"])
        port = _free_port()
        gatehouse_url = f"http://127.0.0.1:{port}"
        gatehouse_env = {
            **UNLIMITED,
            "RATELIMIT_VERIFY": "100000/m",
            # Discovery's absolute URLs must point at this very server.
            "PUBLIC_BASE_URL": gatehouse_url,
            "JWT_KEY_PUBLISH_SECONDS": str(PUBLISH_SECONDS),
        }
        # The apps call Gatehouse only when a request needs it: they start alongside it.
        common = {"GATEHOUSE_URL": gatehouse_url, "GATEHOUSE_INTROSPECTION_KEY": introspection_key}
        local = start_app(
            tmp_path,
            # Gatehouse publishes a rotated key PUBLISH_SECONDS before it signs, far less than
            # the JWKS's max-age: the app meets the new kid and must refetch at once.
            {**common, "GATEHOUSE_JWKS_REFETCH_INTERVAL": "1"},
        )
        processes.append(local.process)
        introspecting = start_app(
            tmp_path,
            {
                **common,
                "INFERENCE_INTROSPECT": "true",
                "GATEHOUSE_INTROSPECTION_CACHE_SECONDS": str(INTROSPECTION_CACHE_SECONDS),
            },
        )
        processes.append(introspecting.process)
        gatehouse = start_gunicorn(tmp_path, extra_env=gatehouse_env, port=port)
        processes.append(gatehouse.process)
        wait_until_healthy(local)
        wait_until_healthy(introspecting)
        db = connection.settings_dict
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
            **gatehouse_env,
        }
        yield Stack(gatehouse, local, introspecting, env, developer_key, user_key)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        # What a transactional test leaves behind: empty tables for the tests that follow.
        with django_db_blocker.unblock():
            call_command("flush", interactive=False, verbosity=0)
        signing.keyset_invalidate()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned_parts(header: dict, claims: dict) -> str:
    return f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"


def test_health_is_open_and_predict_without_a_credential_is_401(stack):
    assert stack.local.predict().status_code == HTTPStatus.UNAUTHORIZED
    response = stack.local.predict()
    assert response.json()["code"] == "not_authenticated"
    assert response.headers["WWW-Authenticate"] == "Bearer"

    health = requests.get(stack.local.url + "/health", timeout=30)
    assert (health.status_code, health.json()) == (HTTPStatus.OK, {"status": "ok"})


def test_developer_jwt_may_predict_and_the_app_calls_gatehouse_for_the_keys_only(stack):
    access = stack.login("dev")["access_token"]
    before = stack.settled_client_calls()

    first = stack.local.predict(access)

    assert first.status_code == HTTPStatus.OK, first.text
    assert first.json() == {
        "outputs": [1.0, 3.0, 6.0],
        "sub": jwt.decode(access, options={"verify_signature": False})["sub"],
        "role": "developer",
        "verified_by": "jwks",
    }
    warm = stack.settled_client_calls()
    # The first request fetched the discovery document and the JWKS, and nothing else.
    assert set(warm[len(before) :]) <= {DISCOVERY, JWKS}
    assert JWKS in warm

    for _ in range(25):
        assert stack.local.predict(access).status_code == HTTPStatus.OK
    fresh = stack.login("dev")["access_token"]
    assert stack.local.predict(fresh).status_code == HTTPStatus.OK

    # 26 more checks, a new token among them: not one request reached Gatehouse.
    assert stack.settled_client_calls() == warm


def test_user_role_jwt_is_403_at_predict(stack):
    access = stack.login("plain")["access_token"]

    response = stack.local.predict(access)

    assert (response.status_code, response.json()["code"]) == (HTTPStatus.FORBIDDEN, "permission_denied")


def test_api_keys_are_checked_through_introspection_and_the_answer_is_cached(stack):
    before = stack.settled_client_calls()

    allowed = stack.local.predict(stack.developer_key, api_key=True)
    again = stack.local.predict(stack.developer_key, api_key=True)

    assert allowed.status_code == again.status_code == HTTPStatus.OK, allowed.text
    assert (allowed.json()["role"], allowed.json()["verified_by"]) == ("developer", "introspection")
    # One introspection call for both requests: the second answer came from the 5 s cache
    # (plus the discovery document, if this is the app's first call).
    calls = [call for call in stack.settled_client_calls()[len(before) :] if call != DISCOVERY]
    assert calls == [("POST", "/api/v1/auth/introspect")]

    denied = stack.local.predict(stack.user_key, api_key=True)
    assert (denied.status_code, denied.json()["code"]) == (HTTPStatus.FORBIDDEN, "permission_denied")
    unknown = stack.local.predict("gk_0123456789ab_" + "A" * 43, api_key=True)
    assert (unknown.status_code, unknown.json()["code"]) == (HTTPStatus.UNAUTHORIZED, "token_inactive")


def test_logout_reaches_an_introspecting_app_within_one_second_but_not_a_local_one(stack):
    tokens = stack.login("dev")
    access = tokens["access_token"]
    for app in (stack.local, stack.introspecting):  # both trust it, the introspecting one cached
        assert app.predict(access).status_code == HTTPStatus.OK
    assert stack.introspecting.predict(access).json()["verified_by"] == "introspection"

    logout = stack.gatehouse.post(
        "/api/v1/auth/logout",
        {"refresh_token": tokens["refresh_token"]},
        headers={"Authorization": f"Bearer {access}"},
    )
    logged_out = time.monotonic()
    assert logout.status_code == HTTPStatus.NO_CONTENT, logout.text

    while True:
        sent = time.monotonic()
        response = stack.introspecting.predict(access)
        if response.status_code == HTTPStatus.UNAUTHORIZED:
            break
        assert response.status_code == HTTPStatus.OK, response.text
        assert sent - logged_out < 1.0, "the introspecting app still accepts the token a second after logout"
        time.sleep(0.05)
    assert sent - logged_out < 1.0
    assert response.json()["code"] == "token_inactive"

    # The trade-off of local checks: the access token stays good there until it expires.
    assert stack.local.predict(access).status_code == HTTPStatus.OK


def test_forged_tokens_are_refused_by_the_app(stack):
    genuine = stack.login("dev")["access_token"]
    header = jwt.get_unverified_header(genuine)
    claims = jwt.decode(genuine, options={"verify_signature": False})
    jwks = stack.gatehouse.get("/.well-known/jwks.json").json()["keys"]
    public_jwk = next(key for key in jwks if key["kid"] == header["kid"])
    public_pem = jwt.PyJWK(public_jwk).key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )

    # Signed with the public key as an HMAC secret (the RS256/HS256 confusion attack).
    confused = unsigned_parts({"alg": "HS256", "typ": "JWT", "kid": header["kid"]}, claims)
    confused += "." + b64url(hmac.new(public_pem, confused.encode(), hashlib.sha256).digest())
    # No signature at all.
    unsigned = unsigned_parts({"alg": "none", "typ": "JWT", "kid": header["kid"]}, claims) + "."
    # A key of our own: under a kid Gatehouse never published, and under Gatehouse's kid.
    own_key = ed25519.Ed25519PrivateKey.generate()
    unknown_kid = jwt.encode(claims, own_key, algorithm="EdDSA", headers={"kid": "eddsa-forged"})
    wrong_key = jwt.encode(claims, own_key, algorithm="EdDSA", headers={"kid": header["kid"]})
    # Gatehouse's real private key (the test shares its database and settings), wrong audience.
    real = signing.keyset().verifier(header["kid"])
    assert real is not None and real.signing is not None
    resigned = jwt.encode(claims, real.signing, algorithm=real.algorithm, headers={"kid": real.kid})
    wrong_aud = jwt.encode(
        {**claims, "aud": "another-api"}, real.signing, algorithm=real.algorithm, headers={"kid": real.kid}
    )

    # The control: the same claims re-signed with the real key pass, so each refusal below is
    # for its own forgery alone.
    assert stack.local.predict(resigned).status_code == HTTPStatus.OK
    for name, token, code in [
        ("HS256 with the public key", confused, "token_not_valid"),
        ("alg none", unsigned, "token_not_valid"),
        ("unknown kid", unknown_kid, "unknown_kid"),
        ("Gatehouse's kid, another key", wrong_key, "token_not_valid"),
        ("wrong aud", wrong_aud, "token_not_valid"),
    ]:
        response = stack.local.predict(token)
        assert (response.status_code, response.json().get("code")) == (HTTPStatus.UNAUTHORIZED, code), name


def test_key_rotation_mid_run_breaks_no_request_and_new_tokens_verify_at_the_app(stack):
    issued_before = stack.login("dev")["access_token"]
    old_kid = jwt.get_unverified_header(issued_before)["kid"]
    assert stack.local.predict(issued_before).status_code == HTTPStatus.OK
    jwks_fetches_before = stack.settled_client_calls().count(JWKS)

    results: list[tuple[str, int, int]] = []  # (kid, login status, predict status)
    stop_loop = threading.Event()
    failure: list[BaseException] = []

    def traffic() -> None:
        try:
            deadline = time.monotonic() + 40  # bounded whatever happens to the main thread
            while not stop_loop.is_set() and time.monotonic() < deadline:
                login = stack.gatehouse.post("/api/v1/auth/login", {"username": "dev", "password": PASSWORD})
                if login.status_code != HTTPStatus.OK:
                    results.append(("", login.status_code, 0))
                    continue
                access = login.json()["access_token"]
                kid = jwt.get_unverified_header(access)["kid"]
                results.append((kid, login.status_code, stack.local.predict(access).status_code))
        except BaseException as error:  # noqa: BLE001 - reported by the main thread
            failure.append(error)

    worker = threading.Thread(target=traffic)
    worker.start()
    try:
        rotated = subprocess.run(
            [sys.executable, "manage.py", "jwt_keys", "rotate"],
            cwd=ROOT,
            env=stack.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert rotated.returncode == 0, rotated.stdout + rotated.stderr
        new_kid = re.search(r"key (\S+): published now", rotated.stdout)[1]
        assert new_kid != old_kid
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and sum(kid == new_kid for kid, _, _ in results) < 3:
            time.sleep(0.1)
    finally:
        stop_loop.set()
        worker.join(timeout=60)
    assert not failure, failure

    kids = [kid for kid, _, _ in results]
    assert old_kid in kids and sum(kid == new_kid for kid in kids) >= 3, kids
    # Every login and every check at the app succeeded, before, during and after the switch.
    assert [result for result in results if result[1:] != (HTTPStatus.OK, HTTPStatus.OK)] == []
    assert set(kids) == {old_kid, new_kid}
    # The app learned the new key by refetching the JWKS when it met the new kid: once.
    jwks_fetches = stack.settled_client_calls().count(JWKS)
    assert jwks_fetches - jwks_fetches_before == 1
    # Nobody was logged out: a token of the old key still passes.
    assert stack.local.predict(issued_before).status_code == HTTPStatus.OK
