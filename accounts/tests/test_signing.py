"""Signing keys: kid on every token, algorithms, the JWKS, rotation, retirement, algorithm
switches that log no one out, legacy tokens, encryption at rest, and the jwt_keys command."""

import base64
import json
import threading
import time
from http import HTTPStatus
from io import StringIO

import jwt
import pytest
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import serialization
from django.core.management import CommandError, call_command
from django.db import connection

from accounts import signing
from accounts.models import SigningKey
from accounts.tests.factories import UserFactory
from accounts.tests.helpers import bearer_client, login
from audit.models import AuditEvent

pytestmark = pytest.mark.django_db

PRIVATE_JWK_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}
PUBLIC_MEMBERS = {
    "OKP": {"kty", "crv", "x", "kid", "alg", "use"},
    "EC": {"kty", "crv", "x", "y", "kid", "alg", "use"},
    "RSA": {"kty", "n", "e", "kid", "alg", "use"},
}


def header(token: str) -> dict:
    return jwt.get_unverified_header(token)


def claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def jwks(api_client) -> list[dict]:
    response = api_client.get("/.well-known/jwks.json")
    assert response.status_code == HTTPStatus.OK
    return response.json()["keys"]


def me_status(token: str) -> int:
    return bearer_client(token).get("/api/v1/auth/me").status_code


def run(*args: str) -> str:
    out = StringIO()
    call_command("jwt_keys", *args, stdout=out)
    return out.getvalue()


class Clock:
    """Moves accounts.signing's notion of now (token `exp` checks keep real time)."""

    def __init__(self):
        self.offset = 0.0

    def advance(self, seconds: float) -> None:
        self.offset += seconds
        signing.keyset_invalidate()  # as the once-a-second re-read would


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    real = time.time
    monkeypatch.setattr(signing, "_now", lambda: real() + clock.offset)
    return clock


@pytest.fixture
def alice(db):
    return UserFactory(username="alice", email="alice@example.com")


# --- Every token has a kid; EdDSA by default; the other algorithms ------------------------


def test_every_token_carries_the_kid_of_an_ed25519_key_by_default(api_client, alice, settings):
    assert settings.JWT_ALGORITHM == "EdDSA"
    tokens = login(api_client, "alice")
    access, refresh = header(tokens["access_token"]), header(tokens["refresh_token"])
    assert access["alg"] == refresh["alg"] == "EdDSA"
    assert access["kid"] == refresh["kid"] == SigningKey.objects.get().kid
    (key,) = jwks(api_client)
    assert set(key) == PUBLIC_MEMBERS["OKP"]
    assert key == {**key, "kid": access["kid"], "kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig"}
    refreshed = api_client.post(
        "/api/v1/auth/refresh", {"refresh_token": tokens["refresh_token"]}, format="json"
    )
    assert header(refreshed.json()["access_token"])["kid"] == access["kid"]


@pytest.mark.parametrize(("algorithm", "kty"), [("ES256", "EC"), ("RS256", "RSA"), ("EdDSA", "OKP")])
def test_each_asymmetric_algorithm_issues_verifies_and_publishes_public_parameters_only(
    api_client, alice, settings, algorithm, kty
):
    settings.JWT_ALGORITHM = algorithm
    tokens = login(api_client, "alice")
    assert header(tokens["access_token"])["alg"] == algorithm
    assert me_status(tokens["access_token"]) == HTTPStatus.OK
    refreshed = api_client.post(
        "/api/v1/auth/refresh", {"refresh_token": tokens["refresh_token"]}, format="json"
    )
    assert refreshed.status_code == HTTPStatus.OK
    (key,) = jwks(api_client)
    assert set(key) == PUBLIC_MEMBERS[kty] and not set(key) & PRIVATE_JWK_MEMBERS
    assert (
        key["alg"] == algorithm
        and key["use"] == "sig"
        and key["kid"] == header(tokens["access_token"])["kid"]
    )
    if kty == "EC":
        assert key["crv"] == "P-256"
    # A resource server with only the JWKS verifies the token.
    public = jwt.PyJWK(key)
    payload = jwt.decode(
        tokens["access_token"],
        public,
        algorithms=[algorithm],
        audience="gatehouse-api",
        issuer="http://testserver",
    )
    assert payload["sub"] == str(alice.pk)


def test_hs256_signs_with_jwt_signing_key_under_a_hashed_kid_and_publishes_nothing(
    api_client, alice, settings
):
    settings.JWT_ALGORITHM = "HS256"
    tokens = login(api_client, "alice")
    kid = header(tokens["access_token"])["kid"]
    assert header(tokens["access_token"])["alg"] == "HS256"
    assert kid == signing.hs256_kid(settings.JWT_SIGNING_KEY) and settings.JWT_SIGNING_KEY not in kid
    jwt.decode(
        tokens["access_token"], settings.JWT_SIGNING_KEY, algorithms=["HS256"], audience="gatehouse-api"
    )
    assert me_status(tokens["access_token"]) == HTTPStatus.OK
    assert jwks(api_client) == []
    assert SigningKey.objects.get().private_key_encrypted == ""  # the secret is never stored


def test_the_kid_is_the_algorithm_and_the_rfc7638_thumbprint_of_the_public_key(api_client, alice):
    tokens = login(api_client, "alice")
    (key,) = jwks(api_client)
    assert jwt.PyJWK(key).key  # parses
    assert header(tokens["access_token"])["kid"] == "eddsa-" + signing.jwk_thumbprint(key)


# --- Discovery --------------------------------------------------------------------------


def test_discovery_metadata_names_the_issuer_of_every_token_and_absolute_urls(api_client, alice):
    response = api_client.get("/.well-known/oauth-authorization-server")
    assert response.status_code == HTTPStatus.OK
    assert response["Cache-Control"] == "public, max-age=300"
    assert response.json() == {
        "issuer": "http://testserver",
        "jwks_uri": "http://testserver/.well-known/jwks.json",
        "introspection_endpoint": "http://testserver/api/v1/auth/introspect",
        "introspection_endpoint_auth_methods_supported": ["api_key"],
        "response_types_supported": [],
        "grant_types_supported": [],
        "service_documentation": "http://testserver/api/docs",
    }
    tokens = login(api_client, "alice")
    assert claims(tokens["access_token"])["iss"] == response.json()["issuer"]
    assert claims(tokens["refresh_token"])["iss"] == response.json()["issuer"]


def test_discovery_follows_public_base_url_and_jwt_issuer(api_client, alice, settings):
    settings.PUBLIC_BASE_URL = "https://id.example.com"
    settings.JWT_ISSUER = "https://issuer.example.com"
    body = api_client.get("/.well-known/oauth-authorization-server/").json()
    assert body["issuer"] == "https://issuer.example.com"
    assert body["jwks_uri"] == "https://id.example.com/.well-known/jwks.json"
    assert claims(login(api_client, "alice")["access_token"])["iss"] == "https://issuer.example.com"


def test_jwks_is_public_cacheable_json(api_client, alice):
    login(api_client, "alice")
    response = api_client.get("/.well-known/jwks.json")
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "public, max-age=300"
    assert set(response.json()) == {"keys"}


@pytest.mark.parametrize("path", ["/.well-known/jwks.json", "/.well-known/oauth-authorization-server"])
def test_discovery_answers_other_methods_in_the_error_shape(api_client, path):
    response = api_client.post(path, {}, format="json")
    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert response.json()["code"] == "method_not_allowed"
    assert api_client.get(path, HTTP_AUTHORIZATION="Bearer garbage").status_code == HTTPStatus.OK


def test_discovery_makes_no_query_in_steady_state(api_client, alice, settings, django_assert_num_queries):
    login(api_client, "alice")
    settings.JWT_KEYSET_REFRESH_SECONDS = 3600  # the once-a-second re-read is not per request
    api_client.get("/.well-known/jwks.json")
    with django_assert_num_queries(0):
        assert api_client.get("/.well-known/jwks.json").status_code == HTTPStatus.OK
        assert api_client.get("/.well-known/oauth-authorization-server").status_code == HTTPStatus.OK


def test_the_key_table_is_read_at_most_once_per_refresh_interval(alice, settings, django_assert_num_queries):
    settings.JWT_KEYSET_REFRESH_SECONDS = 60  # a stalled machine must not expire it mid-test
    signing.signer()
    with django_assert_num_queries(0):
        for _ in range(50):
            signing.keyset()
    settings.JWT_KEYSET_REFRESH_SECONDS = 0
    with django_assert_num_queries(1):
        signing.keyset()


@pytest.mark.django_db(transaction=True)
def test_a_process_that_starts_while_the_database_is_down_verifies_with_the_shared_public_keys(
    api_client, alice, monkeypatch
):
    from django.db import DatabaseError

    tokens = login(api_client, "alice")
    assert me_status(tokens["access_token"]) == HTTPStatus.OK
    signing._current = None  # a fresh worker: no key set in memory

    def database_down(*args, **kwargs):
        raise DatabaseError("connection refused")

    monkeypatch.setattr(signing.SigningKey.objects, "all", database_down)
    key_set = signing.keyset()
    kid = header(tokens["access_token"])["kid"]
    assert key_set.verifier(kid) is not None and key_set.signer(time.time()) is None
    assert "PRIVATE" not in str(signing.cache.get(signing.SNAPSHOT_CACHE_KEY))
    assert all("private_key_encrypted" not in row for row in signing.cache.get(signing.SNAPSHOT_CACHE_KEY))


# --- Rotation -----------------------------------------------------------------------------


def test_rotate_publishes_at_once_and_signs_only_after_the_publish_delay(api_client, alice, clock, settings):
    assert settings.JWT_KEY_PUBLISH_SECONDS == 600
    old = login(api_client, "alice")
    old_kid = header(old["access_token"])["kid"]
    output = run("rotate")
    new_kid = SigningKey.objects.exclude(kid=old_kid).get().kid
    assert f"New EdDSA key {new_kid}: published now" in output
    assert {key["kid"] for key in jwks(api_client)} == {old_kid, new_kid}
    assert header(login(api_client, "alice")["access_token"])["kid"] == old_kid  # still the old key

    clock.advance(601)
    fresh = login(api_client, "alice")
    assert header(fresh["access_token"])["kid"] == new_kid
    # Nobody is logged out: the old key's tokens still work and stay published.
    assert me_status(old["access_token"]) == HTTPStatus.OK
    refreshed = api_client.post(
        "/api/v1/auth/refresh", {"refresh_token": old["refresh_token"]}, format="json"
    )
    assert (
        refreshed.status_code == HTTPStatus.OK and header(refreshed.json()["access_token"])["kid"] == new_kid
    )
    assert {key["kid"] for key in jwks(api_client)} == {old_kid, new_kid}

    event = AuditEvent.objects.get(event="jwt_key.rotated")
    assert event.details == {
        "kid": new_kid,
        "algorithm": "EdDSA",
        "activates_at": event.details["activates_at"],
        "previous_kid": old_kid,
    }
    assert event.actor_kind == "operator"


def test_rotate_with_no_publish_delay_signs_with_the_new_key_at_once(api_client, alice, settings):
    settings.JWT_KEY_PUBLISH_SECONDS = 0
    old = login(api_client, "alice")
    run("rotate")
    fresh = login(api_client, "alice")
    assert header(fresh["access_token"])["kid"] != header(old["access_token"])["kid"]
    assert me_status(old["access_token"]) == me_status(fresh["access_token"]) == HTTPStatus.OK


def test_a_superseded_key_leaves_the_jwks_once_every_token_it_signed_has_expired(
    api_client, alice, clock, settings
):
    old_kid = header(login(api_client, "alice")["access_token"])["kid"]
    run("rotate")
    clock.advance(601)
    signing.signer()
    lifetime = max(settings.REFRESH_TOKEN_LIFETIME_SECONDS, settings.REFRESH_TOKEN_REMEMBER_ME_SECONDS)
    clock.advance(lifetime - 60)
    assert old_kid in {key["kid"] for key in jwks(api_client)}
    assert "verifying" in next(line for line in run("list").splitlines() if old_kid in line)
    clock.advance(120)
    assert old_kid not in {key["kid"] for key in jwks(api_client)}
    assert "expired" in next(line for line in run("list").splitlines() if old_kid in line)


# --- Algorithm switches log no one out -------------------------------------------------------


def test_switching_from_hs256_to_eddsa_logs_no_one_out(api_client, alice, clock, settings):
    settings.JWT_ALGORITHM = "HS256"
    before = login(api_client, "alice")
    hs_kid = header(before["access_token"])["kid"]

    settings.JWT_ALGORITHM = "EdDSA"
    assert me_status(before["access_token"]) == HTTPStatus.OK
    during = login(api_client, "alice")
    # The Ed25519 key is published at once but HS256 keeps signing for JWT_KEY_PUBLISH_SECONDS.
    assert header(during["access_token"])["kid"] == hs_kid
    (published,) = jwks(api_client)
    assert published["kty"] == "OKP"

    clock.advance(601)
    after = login(api_client, "alice")
    assert header(after["access_token"]) == {"alg": "EdDSA", "typ": "JWT", "kid": published["kid"]}
    assert me_status(before["access_token"]) == HTTPStatus.OK
    refreshed = api_client.post(
        "/api/v1/auth/refresh", {"refresh_token": before["refresh_token"]}, format="json"
    )
    assert refreshed.status_code == HTTPStatus.OK
    assert header(refreshed.json()["access_token"])["alg"] == "EdDSA"


def test_switching_from_eddsa_to_es256_logs_no_one_out(api_client, alice, clock, settings):
    before = login(api_client, "alice")
    ed_kid = header(before["access_token"])["kid"]
    settings.JWT_ALGORITHM = "ES256"
    assert header(login(api_client, "alice")["access_token"])["kid"] == ed_kid
    assert {key["kty"] for key in jwks(api_client)} == {"OKP", "EC"}
    clock.advance(601)
    after = login(api_client, "alice")
    assert header(after["access_token"])["alg"] == "ES256"
    assert me_status(before["access_token"]) == me_status(after["access_token"]) == HTTPStatus.OK
    assert SigningKey.objects.count() == 2


def test_processes_with_different_algorithms_add_no_key_per_request(alice, clock, settings):
    """A rolling deploy of a switch: old (EdDSA) and new (ES256) processes side by side."""
    signing.signer()
    for _ in range(3):
        for algorithm in ("ES256", "EdDSA"):
            settings.JWT_ALGORITHM = algorithm
            signing.keyset_invalidate()
            signing.signer()
    assert list(SigningKey.objects.values_list("algorithm", flat=True)) == ["EdDSA", "ES256"]
    clock.advance(601)  # the ES256 key signs now; an EdDSA process adds one key, once
    for _ in range(3):
        for algorithm in ("EdDSA", "ES256"):
            settings.JWT_ALGORITHM = algorithm
            signing.keyset_invalidate()
            assert signing.signer().algorithm == "ES256"
    assert list(SigningKey.objects.values_list("algorithm", flat=True)) == ["EdDSA", "ES256", "EdDSA"]


def test_a_fresh_install_signs_at_once_with_its_first_key(api_client, alice, settings):
    settings.JWT_ALGORITHM = "RS256"
    assert not SigningKey.objects.exists()
    tokens = login(api_client, "alice")
    assert header(tokens["access_token"])["alg"] == "RS256"


# --- Retirement ----------------------------------------------------------------------------


def test_retire_refuses_its_tokens_at_once_even_when_remembered_and_drops_it_from_the_jwks(api_client, alice):
    old = login(api_client, "alice")
    old_kid = header(old["access_token"])["kid"]
    assert me_status(old["access_token"]) == HTTPStatus.OK  # now in the verified-token LRU
    run("rotate")
    new_kid = SigningKey.objects.exclude(kid=old_kid).get().kid

    output = run("retire", old_kid)
    assert f"Retired key {old_kid}" in output and f"Key {new_kid} (EdDSA) signs from now on." in output
    response = bearer_client(old["access_token"]).get("/api/v1/auth/me")
    assert response.status_code == HTTPStatus.UNAUTHORIZED and response.json()["code"] == "token_not_valid"
    refresh = api_client.post("/api/v1/auth/refresh", {"refresh_token": old["refresh_token"]}, format="json")
    assert refresh.status_code == HTTPStatus.UNAUTHORIZED
    assert [key["kid"] for key in jwks(api_client)] == [new_kid]
    # The pending key took over at once.
    fresh = login(api_client, "alice")
    assert (
        header(fresh["access_token"])["kid"] == new_kid and me_status(fresh["access_token"]) == HTTPStatus.OK
    )
    event = AuditEvent.objects.get(event="jwt_key.retired")
    assert event.details == {"kid": old_kid, "algorithm": "EdDSA", "replacement_kid": new_kid}
    assert "retired" in next(line for line in run("list").splitlines() if old_kid in line)


def test_retiring_the_only_signing_key_puts_a_fresh_key_in_its_place(api_client, alice):
    old = login(api_client, "alice")
    old_kid = header(old["access_token"])["kid"]
    run("retire", old_kid)
    assert me_status(old["access_token"]) == HTTPStatus.UNAUTHORIZED
    fresh = login(api_client, "alice")
    assert header(fresh["access_token"])["kid"] not in {old_kid, None}
    assert me_status(fresh["access_token"]) == HTTPStatus.OK


def test_a_retirement_written_by_another_process_is_seen_here_within_a_second(api_client, alice):
    tokens = login(api_client, "alice")
    assert me_status(tokens["access_token"]) == HTTPStatus.OK
    # Another process retires the key: this one learns it only from the table.
    SigningKey.objects.update(retired_at=signing._when(time.time()))
    time.sleep(1.05)
    assert me_status(tokens["access_token"]) == HTTPStatus.UNAUTHORIZED


def test_retiring_jwt_signing_key_ends_legacy_and_hs256_tokens(api_client, alice, settings):
    legacy = legacy_token(api_client, settings)
    assert me_status(legacy) == HTTPStatus.OK
    run("retire", signing.hs256_kid(settings.JWT_SIGNING_KEY))
    assert me_status(legacy) == HTTPStatus.UNAUTHORIZED


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("retire", "nope"), "no signing key with kid 'nope'"),
        (("retire",), "the following arguments are required: kid"),
    ],
)
def test_jwt_keys_bad_input_is_a_one_line_error(alice, args, message):
    with pytest.raises(CommandError) as error:
        call_command("jwt_keys", *args)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_retiring_twice_and_rotating_or_retiring_jwt_signing_key_in_hs256_mode_are_refused(
    api_client, alice, settings
):
    kid = header(login(api_client, "alice")["access_token"])["kid"]
    run("retire", kid)
    with pytest.raises(CommandError, match=f"key '{kid}' is already retired"):
        run("retire", kid)
    settings.JWT_ALGORITHM = "HS256"
    hs_kid = header(login(api_client, "alice")["access_token"])["kid"]
    with pytest.raises(CommandError, match="JWT_ALGORITHM is HS256: its key is JWT_SIGNING_KEY"):
        run("rotate")
    with pytest.raises(CommandError, match="set a new JWT_SIGNING_KEY instead"):
        run("retire", hs_kid)


def test_jwt_keys_list_shows_kid_algorithm_state_and_dates(api_client, alice):
    kid = header(login(api_client, "alice")["access_token"])["kid"]
    run("rotate")
    lines = run("list").splitlines()
    assert lines[0].split() == [
        "KID",
        "ALGORITHM",
        "STATE",
        "CREATED",
        "SIGNS",
        "FROM",
        "VALID",
        "UNTIL",
        "RETIRED",
    ]
    assert next(line for line in lines if kid in line).split()[1:3] == ["EdDSA", "signing"]
    assert "pending" in lines[2] and lines[-1] == "2 key(s)"


# --- Legacy tokens and issuers ---------------------------------------------------------------


def legacy_token(api_client, settings, **changes) -> str:
    """What the HS256 code before kids signed: no kid, iss "gatehouse", JWT_SIGNING_KEY."""
    tokens = login(api_client, "alice")
    payload = {**claims(tokens["access_token"]), "iss": "gatehouse", **changes}
    return jwt.encode(payload, settings.JWT_SIGNING_KEY, algorithm="HS256")


def test_a_legacy_token_without_kid_verifies_while_jwt_signing_key_is_set(api_client, alice, settings):
    token = legacy_token(api_client, settings)
    assert "kid" not in header(token)
    assert me_status(token) == HTTPStatus.OK
    verify = api_client.post("/api/v1/auth/verify", {"token": token}, format="json").json()
    assert verify["valid"] is True
    settings.JWT_SIGNING_KEY = ""  # switched away from HS256 and the old secret dropped
    signing.keyset_invalidate()
    assert me_status(token) == HTTPStatus.UNAUTHORIZED


def test_the_previous_issuer_is_accepted_and_any_other_refused(api_client, alice, settings):
    assert me_status(legacy_token(api_client, settings, iss="gatehouse")) == HTTPStatus.OK
    assert me_status(legacy_token(api_client, settings, iss="elsewhere")) == HTTPStatus.UNAUTHORIZED
    settings.JWT_PREVIOUS_ISSUERS = []
    assert me_status(legacy_token(api_client, settings, iss="gatehouse")) == HTTPStatus.UNAUTHORIZED


def test_pyjwt_accepts_any_issuer_of_a_list_and_compares_a_string_exactly():
    token = jwt.encode({"iss": "b"}, "k" * 32, algorithm="HS256")
    assert jwt.decode(token, "k" * 32, algorithms=["HS256"], issuer=["a", "b"])["iss"] == "b"
    with pytest.raises(jwt.InvalidIssuerError):
        jwt.decode(token, "k" * 32, algorithms=["HS256"], issuer=["a", "c"])
    with pytest.raises(jwt.InvalidIssuerError):
        jwt.decode(token, "k" * 32, algorithms=["HS256"], issuer="ab")  # no substring match
    with pytest.raises(jwt.MissingRequiredClaimError):
        jwt.decode(jwt.encode({}, "k" * 32, algorithm="HS256"), "k" * 32, algorithms=["HS256"], issuer=["a"])


# --- Encryption at rest ----------------------------------------------------------------------


def database_dump() -> str:
    """Every column of the key table as text, as pg_dump would write it."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM accounts_signingkey")
        return "\n".join("\t".join(str(value) for value in row) for row in cursor.fetchall())


@pytest.mark.parametrize("algorithm", ["EdDSA", "ES256", "RS256"])
def test_a_database_dump_reveals_no_usable_private_key(alice, settings, algorithm):
    settings.JWT_ALGORITHM = algorithm
    private_key = signing.signer().signing
    der = private_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    dump = database_dump()
    assert "PRIVATE" not in dump
    for encoding in (der.hex(), base64.b64encode(der).decode(), base64.urlsafe_b64encode(der).decode()):
        assert encoding[:40] not in dump
    if algorithm == "EdDSA":
        raw = private_key.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        assert raw.hex() not in dump and base64.urlsafe_b64encode(raw).decode().rstrip("=") not in dump
    stored = SigningKey.objects.get().private_key_encrypted.encode()
    # Useless without the key-encryption key: another key cannot open it...
    with pytest.raises(InvalidToken):
        Fernet(Fernet.generate_key()).decrypt(stored)
    # ...the configured one (derived from DJANGO_SECRET_KEY here) can.
    assert Fernet(signing.derived_kek(settings.SECRET_KEY)).decrypt(stored) == der


def test_encryption_keys_rotate_by_prepending_and_rewrapping(api_client, alice, settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.JWT_KEY_ENCRYPTION_KEYS = [old]
    tokens = login(api_client, "alice")
    stored = SigningKey.objects.get().private_key_encrypted
    settings.JWT_KEY_ENCRYPTION_KEYS = [new, old]
    assert "Re-encrypted 1 private key(s)" in run("rewrap")
    assert SigningKey.objects.get().private_key_encrypted != stored
    settings.JWT_KEY_ENCRYPTION_KEYS = [new]  # the old key can go now
    signing.keyset_invalidate()
    again = login(api_client, "alice")
    assert header(again["access_token"])["kid"] == header(tokens["access_token"])["kid"]
    settings.JWT_KEY_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(CommandError, match="no JWT_KEY_ENCRYPTION_KEYS key decrypts key"):
        run("rewrap")


def test_a_key_this_process_cannot_decrypt_still_verifies_and_a_new_key_signs(api_client, alice, settings):
    before = login(api_client, "alice")
    settings.JWT_KEY_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]  # the KEK was lost
    signing.keyset_invalidate()
    after = login(api_client, "alice")
    assert header(after["access_token"])["kid"] != header(before["access_token"])["kid"]
    assert me_status(before["access_token"]) == me_status(after["access_token"]) == HTTPStatus.OK


# --- Concurrent bootstrap on PostgreSQL ------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("existing", [None, "EdDSA"])
def test_workers_starting_at_once_create_exactly_one_key(settings, existing):
    if connection.vendor != "postgresql":
        pytest.fail("this test needs PostgreSQL: run it with ./scripts/test")
    if existing:  # an algorithm switch: everyone notices at once
        signing.signer()
        settings.JWT_ALGORITHM = "ES256"
    racers = 8
    barrier = threading.Barrier(racers)
    kids: list = [None] * racers
    errors: list = []

    def worker(i: int) -> None:
        try:
            barrier.wait()
            kids[i] = signing.signer().kid
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    signing.keyset_invalidate()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert SigningKey.objects.count() == (2 if existing else 1)
    assert SigningKey.objects.filter(algorithm=settings.JWT_ALGORITHM).count() == 1
    assert len(set(kids)) == 1


def test_the_jwks_document_is_valid_json_of_keys(alice):
    signing.signer()
    assert json.loads(signing.jwks_document())["keys"][0]["use"] == "sig"
