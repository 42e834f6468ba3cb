"""JWT attacks against the real authentication path (RFC 8725, OWASP ASVS V3/V51).

Every forged or broken token answers 401 in the contract's JSON shape, never 5xx, on an
endpoint that needs authentication and on /verify (which answers 200 {"valid": false}).
"""

import base64
import json
import time
from http import HTTPStatus

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.conf import settings
from rest_framework.authentication import get_authorization_header
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from accounts import signing
from accounts.authentication import authorization_header
from accounts.models import Session
from accounts.tests.factories import UserFactory
from accounts.tests.helpers import bearer_client, login
from accounts.tests.signing_helpers import sign_as_gatehouse

pytestmark = pytest.mark.django_db

ATTACKER_HS_KEY = "an attacker's own key, long enough for HS256 1234567890"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64json(obj) -> str:
    return b64(json.dumps(obj).encode())


def parts(token: str) -> tuple[dict, dict, str]:
    header_b64, payload_b64, signature = token.split(".")
    pad = lambda s: s + "=" * (-len(s) % 4)  # noqa: E731
    return (
        json.loads(base64.urlsafe_b64decode(pad(header_b64))),
        json.loads(base64.urlsafe_b64decode(pad(payload_b64))),
        signature,
    )


def sign(payload: dict, *, key=None, algorithm="HS256", headers=None) -> str:
    """Without a key: signed exactly as Gatehouse signs (its current key and kid), so only the
    claims or headers under test are wrong. With a key: the attacker's."""
    if key is None:
        return sign_as_gatehouse(payload, headers=headers)
    return jwt.encode(payload, key, algorithm=algorithm, headers=headers)


def our_kid(token: str) -> str:
    return parts(token)[0]["kid"]


def mac(secret: bytes, header: dict, payload: dict) -> str:
    import hashlib
    import hmac

    signing_input = f"{b64json(header)}.{b64json(payload)}"
    return f"{signing_input}.{b64(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())}"


def assert_rejected(token: str, api_client, code: str | None = None) -> None:
    response = bearer_client(token).get("/api/v1/auth/me")
    assert response.status_code == HTTPStatus.UNAUTHORIZED, (token[:80], response.content)
    body = response.json()
    assert set(body) == {"detail", "code"}
    assert body["code"] in {"token_not_valid", "token_expired", "token_revoked"}
    if code:
        assert body["code"] == code
    verify = api_client.post("/api/v1/auth/verify", {"token": token}, format="json")
    assert verify.status_code == HTTPStatus.OK
    assert verify.json()["valid"] is False


@pytest.fixture
def victim(api_client):
    UserFactory(username="victim", email="victim@example.com")
    return login(api_client, "victim")


@pytest.fixture
def claims(victim) -> dict:
    return parts(victim["access_token"])[1]


# --- Algorithm and signature ------------------------------------------------------------


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
@pytest.mark.parametrize("with_kid", [False, True])
def test_alg_none_in_every_spelling(api_client, victim, claims, alg, with_kid):
    head = {"alg": alg, "typ": "JWT", **({"kid": our_kid(victim["access_token"])} if with_kid else {})}
    token = f"{b64json(head)}.{b64json({**claims, 'role': 'admin'})}."
    assert_rejected(token, api_client)
    assert_rejected(token + "c2ln", api_client)


def test_hs256_with_a_wrong_key(api_client, victim, claims):
    assert_rejected(sign(claims, key=ATTACKER_HS_KEY), api_client)  # no kid: the legacy HS256 path
    assert_rejected(
        sign(claims, key=ATTACKER_HS_KEY, headers={"kid": our_kid(victim["access_token"])}), api_client
    )
    hs_kid = signing.hs256_kid(settings.JWT_SIGNING_KEY)
    assert_rejected(sign(claims, key=ATTACKER_HS_KEY, headers={"kid": hs_kid}), api_client)


def test_hs256_keyed_with_our_published_public_key_alg_confusion(api_client, victim, claims):
    """RFC 8725 2.1: the kid names an Ed25519 key, so only EdDSA can verify it; an HMAC whose
    secret is the public key (PEM, raw, or its JWK x) is refused."""
    kid = our_kid(victim["access_token"])
    (jwk,) = api_client.get("/.well-known/jwks.json").json()["keys"]
    public_key = jwt.PyJWK(jwk).key
    pem = public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    forged_claims = {**claims, "role": "admin"}
    for secret in (pem, raw, jwk["x"].encode(), json.dumps(jwk).encode()):
        for head in ({"alg": "HS256", "typ": "JWT", "kid": kid}, {"alg": "HS256", "typ": "JWT"}):
            assert_rejected(mac(secret, head, forged_claims), api_client)


def test_a_kid_is_checked_with_its_own_algorithm_only(api_client, victim, claims, settings):
    """An ES256 kid on a token our Ed25519 key signed: refused (the alg header chooses nothing)."""
    ed_kid = our_kid(victim["access_token"])
    settings.JWT_ALGORITHM = "ES256"
    settings.JWT_KEY_PUBLISH_SECONDS = 0
    signing.signer()  # the ES256 key exists and signs; the Ed25519 key still verifies
    es_kid = next(
        k["kid"] for k in api_client.get("/.well-known/jwks.json").json()["keys"] if k["kty"] == "EC"
    )
    ed_private = next(k for k in signing.keyset().timeline if k.kid == ed_kid).signing
    assert_rejected(jwt.encode(claims, ed_private, algorithm="EdDSA", headers={"kid": es_kid}), api_client)
    assert bearer_client(victim["access_token"]).get("/api/v1/auth/me").status_code == HTTPStatus.OK


def test_a_token_signed_by_our_key_under_an_unknown_or_retired_kid(api_client, victim, claims):
    from io import StringIO

    from django.core.management import call_command

    assert_rejected(sign(claims, headers={"kid": "not-a-key-of-ours"}), api_client)
    old_kid = our_kid(victim["access_token"])
    old_private = signing.signer().signing
    call_command("jwt_keys", "retire", old_kid, stdout=StringIO())
    assert_rejected(jwt.encode(claims, old_private, algorithm="EdDSA", headers={"kid": old_kid}), api_client)
    assert_rejected(victim["access_token"], api_client)


def test_claims_changed_under_the_old_signature(api_client, victim, claims):
    header, _, signature = victim["access_token"].split(".")
    for change in ({"role": "admin"}, {"sub": "1"}, {"exp": claims["exp"] + 3600}):
        assert_rejected(f"{header}.{b64json({**claims, **change})}.{signature}", api_client)


@pytest.mark.parametrize("signature", ["", "AAAA", "="])
def test_stripped_or_empty_signature(api_client, victim, signature):
    header, payload, _ = victim["access_token"].split(".")
    assert_rejected(f"{header}.{payload}.{signature}", api_client)


def test_rs256_es256_and_eddsa_tokens_signed_by_an_attacker(api_client, victim, claims):
    from cryptography.hazmat.primitives.asymmetric import ed25519

    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    ed_key = ed25519.Ed25519PrivateKey.generate()
    kid = {"kid": our_kid(victim["access_token"])}
    for headers in (None, kid):
        assert_rejected(sign(claims, key=rsa_key, algorithm="RS256", headers=headers), api_client)
        assert_rejected(sign(claims, key=ec_key, algorithm="ES256", headers=headers), api_client)
        assert_rejected(sign(claims, key=ed_key, algorithm="EdDSA", headers=headers), api_client)
    # Key confusion: an HS256 token whose "secret" is the attacker's public key.
    public_pem = rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = b64json({"alg": "HS256", "typ": "JWT"})
    body = b64json(claims)
    import hashlib
    import hmac

    mac = hmac.new(public_pem, f"{header}.{body}".encode(), hashlib.sha256).digest()
    assert_rejected(f"{header}.{body}.{b64(mac)}", api_client)


@pytest.mark.parametrize(
    "extra_header",
    [
        {"jwk": {"kty": "oct", "k": b64(ATTACKER_HS_KEY.encode())}},
        {"jku": "http://127.0.0.1:9/keys.json"},
        {"x5u": "http://127.0.0.1:9/cert.pem"},
        {"kid": "../../../../dev/null"},
        {"kid": "' OR '1'='1"},
        {"kid": "/proc/self/environ"},
    ],
)
def test_key_headers_are_never_followed(api_client, claims, extra_header):
    # Signed with the attacker's key, pointing at where the "right" key would be.
    assert_rejected(sign(claims, key=ATTACKER_HS_KEY, headers=extra_header), api_client)


def test_a_valid_token_with_odd_headers_is_still_checked_by_our_key_only(api_client, claims):
    token = sign(claims, headers={"jku": "http://127.0.0.1:9/x", "x5u": "http://127.0.0.1:9/c"})
    # Correctly signed with our key under its kid: the URLs change nothing, it works as any token.
    assert bearer_client(token).get("/api/v1/auth/me").status_code == HTTPStatus.OK
    # The kid only names one of our keys; a path or query in it names none.
    assert_rejected(sign(claims, headers={"kid": "../../etc/passwd"}), api_client)
    ed_key = signing.signer()
    signing_input = f"{b64json({'alg': 'EdDSA', 'typ': 'JWT', 'kid': 7})}.{b64json(claims)}"
    raw = f"{signing_input}.{b64(ed_key.signing.sign(signing_input.encode()))}"
    assert_rejected(raw, api_client)


# --- Claims -----------------------------------------------------------------------------


def test_expired_future_nbf_and_missing_exp(api_client, claims):
    now = int(time.time())
    assert_rejected(sign({**claims, "exp": now - 1}), api_client, "token_expired")
    assert_rejected(sign({**claims, "nbf": now + 3600}), api_client)
    without_exp = {k: v for k, v in claims.items() if k != "exp"}
    assert_rejected(sign(without_exp), api_client)


@pytest.mark.parametrize(
    "change",
    [{"aud": "someone-else"}, {"aud": ["someone-else"]}, {"iss": "evil"}, {"iss": None}, {"aud": None}],
)
def test_wrong_audience_or_issuer(api_client, claims, change):
    payload = {**claims, **change}
    payload = {k: v for k, v in payload.items() if v is not None}
    assert_rejected(sign(payload), api_client)
    # The same on the legacy path (no kid, HS256 with JWT_SIGNING_KEY).
    assert_rejected(jwt.encode(payload, settings.JWT_SIGNING_KEY, algorithm="HS256"), api_client)


def test_missing_claims(api_client, claims):
    for claim in ("sub", "sid", "jti", "token_type"):
        assert_rejected(sign({k: v for k, v in claims.items() if k != claim}), api_client)


def test_token_type_confusion(api_client, victim):
    # A refresh token is not an access token (/verify rightly calls it a valid *refresh* token)...
    me = bearer_client(victim["refresh_token"]).get("/api/v1/auth/me")
    assert me.status_code == HTTPStatus.UNAUTHORIZED and me.json()["code"] == "token_not_valid"
    verify = api_client.post("/api/v1/auth/verify", {"token": victim["refresh_token"]}, format="json").json()
    assert verify["token_type"] == "refresh"
    # ...and an access token is not a refresh token.
    response = api_client.post(
        "/api/v1/auth/refresh", {"refresh_token": victim["access_token"]}, format="json"
    )
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json()["code"] == "token_not_valid"


def test_sub_or_sid_that_does_not_exist(api_client, claims):
    assert_rejected(sign({**claims, "sid": "00000000-0000-0000-0000-000000000000"}), api_client)
    assert_rejected(sign({**claims, "sub": "999999"}), api_client)
    assert_rejected(sign({**claims, "sub": "not-a-number"}), api_client)
    assert_rejected(sign({**claims, "sub": 1.5}), api_client)


def test_another_users_session_id(api_client, claims):
    UserFactory(username="other", email="other@example.com")
    other = parts(login(api_client, "other")["access_token"])[1]
    # Our signature, but the victim's sub with someone else's session: refused.
    assert_rejected(sign({**claims, "sid": other["sid"]}), api_client)


def test_deactivated_and_deleted_users(api_client, victim):
    from accounts.services.users import user_delete, user_set_active
    from accounts.tests.factories import UserFactory as Factory

    client = bearer_client(victim["access_token"])
    assert client.get("/api/v1/auth/me").status_code == HTTPStatus.OK
    user = Session.objects.get().user
    user_set_active(user_id=user.pk, is_active=False)
    assert_rejected(victim["access_token"], api_client)
    Factory(username="other2", email="other2@example.com")
    user_delete(user_id=user.pk)
    assert_rejected(victim["access_token"], api_client)
    response = api_client.post(
        "/api/v1/auth/refresh", {"refresh_token": victim["refresh_token"]}, format="json"
    )
    assert response.status_code == HTTPStatus.UNAUTHORIZED


# --- Malformed tokens and headers --------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    [
        "a.b",
        "a.b.c.d",
        "e30.e30",
        "e30.e30.e30.e30",
        "!!!.@@@.###",
        f"{b64(b'not json')}.{b64(b'also not json')}.{b64(b'sig')}",
        f"{b64(bytes([0xFF, 0xFE, 0x00]))}.{b64(bytes([0xC3, 0x28]))}.x",
        "eyJhbGciOiJIUzI1NiJ9." + "A" * 20000 + ".x",
        "." * 5,
        "",
    ],
    ids=[
        "2-segments",
        "4-segments",
        "empty-json-2",
        "empty-json-4",
        "bad-base64",
        "not-json",
        "not-utf8",
        "20kB",
        "dots",
        "empty",
    ],
)
def test_malformed_tokens(api_client, token):
    response = (
        bearer_client(token).get("/api/v1/auth/me")
        if token
        else api_client.get("/api/v1/auth/me", HTTP_AUTHORIZATION="Bearer ")
    )
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json()["code"] in {"token_not_valid", "not_authenticated"}
    verify = api_client.post("/api/v1/auth/verify", {"token": token or "x"}, format="json")
    assert verify.status_code in (HTTPStatus.OK, HTTPStatus.BAD_REQUEST)
    if verify.status_code == HTTPStatus.OK:
        assert verify.json()["valid"] is False


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Bearer  ",
        "Bearer a b c",
        "bearer\tabc",
        "Basic dXNlcjpwYXNz",
        "Token abc",
        "Bearer \u00e9\u00e8",
        "JWT eyJ",
        "Bearer " + "x" * 9000,
    ],
)
def test_odd_authorization_headers(api_client, header):
    response = api_client.get("/api/v1/auth/me", HTTP_AUTHORIZATION=header)
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json()["code"] in {"token_not_valid", "not_authenticated"}


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer abc.def.ghi",
        "bearer\tabc",
        "Bearer \u00e9\u00e8",
        "Basic dXNlcjpwYXNz",
        "Bearer gk_x_y",
    ],
)
def test_the_authorization_header_is_read_as_drf_reads_it(header):
    extra = {} if header is None else {"HTTP_AUTHORIZATION": header}
    request = Request(APIRequestFactory().get("/api/v1/auth/me", **extra))
    assert authorization_header(request) == get_authorization_header(request)


def test_tokens_in_query_strings_or_bodies_never_authenticate(api_client, victim):
    token = victim["access_token"]
    for query in (f"access_token={token}", f"token={token}", f"Authorization=Bearer%20{token}"):
        assert api_client.get(f"/api/v1/auth/me?{query}").status_code == HTTPStatus.UNAUTHORIZED
    assert (
        api_client.patch(
            "/api/v1/auth/me", {"access_token": token, "full_name": "x"}, format="json"
        ).status_code
        == 401
    )


def test_the_signing_algorithm_is_the_configured_one_under_a_published_kid(api_client, victim):
    header, _, _ = parts(victim["access_token"])
    assert header["alg"] == settings.JWT_ALGORITHM == "EdDSA"
    published = api_client.get("/.well-known/jwks.json").json()["keys"]
    assert [(key["kid"], key["alg"]) for key in published] == [(header["kid"], "EdDSA")]
