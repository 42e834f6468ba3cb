"""Verifier against a fake Gatehouse: local JWT checks, JWKS caching, introspection, failures."""

import json
import threading
import time
from datetime import UTC, datetime

import jwt
import pytest
from fake_gatehouse import (
    AUDIENCE,
    DISCOVERY_PATH,
    INTROSPECTION_KEY,
    INTROSPECTION_PATH,
    JWKS_PATH,
    WEAK_KEY,
    b64url,
    hand_made_jwt,
    public_pem,
)
from gatehouse_client import ROLE_SCOPES, GatehouseUnavailable, InvalidToken, Principal, Verifier
from gatehouse_client import errors as codes
from gatehouse_client.verifier import cache_control_max_age

API_KEY = "gk_3f9a0c1b7d2e_Vb4s1Q0xq9yJm2pPqT8hZrWm3YdK5nC7eL1fA6gH2jI"


def refused(verifier: Verifier, token: str, **kwargs) -> InvalidToken:
    with pytest.raises(InvalidToken) as caught:
        verifier.verify(token, **kwargs)
    return caught.value


# Local verification ---------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["EdDSA", "ES256", "RS256"])
def test_access_token_signed_with_each_algorithm_is_verified_locally(gatehouse, verifier, alg):
    kid = gatehouse.add_key(alg)
    token = gatehouse.issue(kid, amr=["pwd", "otp"])

    principal = verifier.verify(token)

    claims = jwt.decode(token, options={"verify_signature": False})
    assert principal == Principal(
        sub="42",
        role="developer",
        scopes=ROLE_SCOPES["developer"],
        token_type="access_token",
        verified_by="jwks",
        username=None,
        session_id="7",
        expires_at=datetime.fromtimestamp(claims["exp"], tz=UTC),
        key_prefix=None,
        amr=("pwd", "otp"),
    )
    assert principal.claims["jti"] == claims["jti"]
    assert principal.expires_at.tzinfo is UTC
    assert gatehouse.requests[INTROSPECTION_PATH] == 0


def test_local_principal_scopes_follow_the_servers_role_table(gatehouse, verifier, eddsa_kid):
    admin = verifier.verify(gatehouse.issue(eddsa_kid, role="admin"))
    robot = verifier.verify(gatehouse.issue(eddsa_kid, role="service_account"))
    guest = verifier.verify(gatehouse.issue(eddsa_kid, role="guest"))

    assert admin.has_scope("admin:write", "tokens:introspect")
    assert robot.has_scope("tokens:introspect") and not robot.has_scope("admin:read")
    assert guest.scopes == {"profile:read", "profile:write", "keys:read"}
    assert admin.has_role("developer", "admin") and not guest.has_role("developer", "admin")


def test_issuer_comes_from_the_discovery_document(gatehouse, verifier, eddsa_kid):
    gatehouse.issuer = "https://id.example.com"

    assert verifier.verify(gatehouse.issue(eddsa_kid, iss="https://id.example.com")).sub == "42"
    assert (
        refused(verifier, gatehouse.issue(eddsa_kid, iss="https://evil.example.com")).code
        == codes.TOKEN_NOT_VALID
    )
    assert gatehouse.requests[DISCOVERY_PATH] == 1


def test_explicit_issuer_list_accepts_tokens_of_an_earlier_issuer(gatehouse, clock, eddsa_kid):
    verifier = Verifier(
        gatehouse.url, issuer=["https://new.example.com", "https://old.example.com"], clock=clock
    )

    assert verifier.verify(gatehouse.issue(eddsa_kid, iss="https://old.example.com")).sub == "42"
    assert verifier.verify(gatehouse.issue(eddsa_kid, iss="https://new.example.com")).sub == "42"
    assert refused(verifier, gatehouse.issue(eddsa_kid)).code == codes.TOKEN_NOT_VALID


def test_wrong_audience_is_refused(gatehouse, verifier, eddsa_kid):
    error = refused(verifier, gatehouse.issue(eddsa_kid, aud="chat-backend"))

    assert (error.code, error.detail) == (codes.TOKEN_NOT_VALID, codes.MSG_WRONG_AUDIENCE)


def test_verifier_for_another_audience_refuses_gatehouse_api_tokens(gatehouse, clock, eddsa_kid):
    verifier = Verifier(gatehouse.url, audience="inference-api", clock=clock)

    assert refused(verifier, gatehouse.issue(eddsa_kid)).code == codes.TOKEN_NOT_VALID
    assert verifier.verify(gatehouse.issue(eddsa_kid, aud=["gatehouse-api", "inference-api"])).sub == "42"


def test_expired_token_is_refused_as_expired(gatehouse, verifier, eddsa_kid):
    now = int(time.time())
    error = refused(verifier, gatehouse.issue(eddsa_kid, iat=now - 1000, exp=now - 100))

    assert (error.code, error.detail) == (codes.TOKEN_EXPIRED, codes.MSG_TOKEN_EXPIRED)


def test_leeway_accepts_a_token_that_expired_within_it(gatehouse, clock, eddsa_kid):
    verifier = Verifier(gatehouse.url, leeway=30, clock=clock)
    now = int(time.time())

    assert verifier.verify(gatehouse.issue(eddsa_kid, iat=now - 900, exp=now - 10)).sub == "42"


def test_refresh_token_is_refused(gatehouse, verifier, eddsa_kid):
    error = refused(verifier, gatehouse.issue(eddsa_kid, token_type="refresh"))

    assert (error.code, error.detail) == (codes.TOKEN_NOT_VALID, codes.MSG_NOT_ACCESS_TOKEN)


@pytest.mark.parametrize("claim", ["sub", "role", "sid", "jti", "iat", "exp", "iss", "aud", "token_type"])
def test_token_missing_a_required_claim_is_refused(gatehouse, verifier, eddsa_kid, claim):
    assert refused(verifier, gatehouse.issue(eddsa_kid, **{claim: None})).code == codes.TOKEN_NOT_VALID


def test_hs256_token_signed_with_the_published_public_key_is_refused(gatehouse, verifier):
    kid = gatehouse.add_key("RS256")
    _, key = gatehouse.keys[kid]
    forged = hand_made_jwt(
        {"alg": "HS256", "typ": "JWT", "kid": kid}, gatehouse.claims(role="admin"), public_pem(key)
    )

    error = refused(verifier, forged)

    assert (error.code, error.detail) == (codes.TOKEN_NOT_VALID, codes.MSG_ALGORITHM_MISMATCH)


def test_unsigned_alg_none_token_is_refused(gatehouse, verifier, eddsa_kid):
    for alg in ("none", "None", "NONE"):
        forged = hand_made_jwt({"alg": alg, "kid": eddsa_kid}, gatehouse.claims(role="admin"), None)
        assert refused(verifier, forged).code == codes.TOKEN_NOT_VALID
    assert gatehouse.requests[JWKS_PATH] == 0  # refused before any key lookup


def test_header_alg_different_from_the_jwks_alg_is_refused_even_if_the_signature_is_valid(gatehouse, clock):
    kid = gatehouse.add_key("RS256")
    _, key = gatehouse.keys[kid]
    verifier = Verifier(gatehouse.url, algorithms=["RS256", "PS256"], clock=clock)
    # Signed by the real key, but under PS256 while the JWKS pins this kid to RS256.
    token = jwt.encode(gatehouse.claims(), key, algorithm="PS256", headers={"kid": kid})

    error = refused(verifier, token)

    assert (error.code, error.detail) == (codes.TOKEN_NOT_VALID, codes.MSG_ALGORITHM_MISMATCH)
    assert verifier.verify(gatehouse.issue(kid)).sub == "42"


def test_token_signed_by_another_key_under_a_published_kid_is_refused(gatehouse, verifier, eddsa_kid):
    impostor = gatehouse.add_key("EdDSA", publish=False, variant=1)
    _, impostor_key = gatehouse.keys[impostor]
    forged = jwt.encode(gatehouse.claims(), impostor_key, algorithm="EdDSA", headers={"kid": eddsa_kid})

    assert refused(verifier, forged).code == codes.TOKEN_NOT_VALID


def test_tampered_payload_is_refused(gatehouse, verifier, eddsa_kid):
    header, _, signature = gatehouse.issue(eddsa_kid).split(".")
    payload = b64url(json.dumps(gatehouse.claims(role="admin")).encode())

    assert refused(verifier, f"{header}.{payload}.{signature}").code == codes.TOKEN_NOT_VALID


def test_token_with_an_unpublished_kid_is_refused_as_unknown_kid(gatehouse, verifier, eddsa_kid):
    secret = gatehouse.add_key("EdDSA", kid="not-published", publish=False, variant=1)

    error = refused(verifier, gatehouse.issue(secret))

    assert (error.code, error.detail) == (codes.UNKNOWN_KID, codes.MSG_UNKNOWN_KID)


def test_symmetric_key_in_the_jwks_is_never_used(gatehouse, verifier, eddsa_kid):
    secret = b"a-shared-secret-that-must-not-work-here"
    gatehouse.extra_jwks.append({"kty": "oct", "kid": "sym", "alg": "HS256", "k": b64url(secret)})
    forged = jwt.encode(gatehouse.claims(), secret, algorithm="HS256", headers={"kid": "sym"})

    assert refused(verifier, forged).code == codes.TOKEN_NOT_VALID


def test_token_without_kid_is_refused(gatehouse, verifier, eddsa_kid):
    _, key = gatehouse.keys[eddsa_kid]
    token = jwt.encode(gatehouse.claims(), key, algorithm="EdDSA")

    assert refused(verifier, token).code == codes.TOKEN_NOT_VALID


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "a.b", "a.b.c.d", "é.é.é", "x" * 9000, "gk_"])
def test_garbage_is_refused_without_a_500(verifier, garbage):
    assert refused(verifier, garbage).code in (codes.TOKEN_NOT_VALID, codes.TOKEN_INACTIVE)


def test_symmetric_algorithms_cannot_be_configured(gatehouse):
    with pytest.raises(ValueError):
        Verifier(gatehouse.url, algorithms=["HS256"])
    with pytest.raises(ValueError):
        Verifier(gatehouse.url, algorithms=["none"])


# JWKS caching -----------------------------------------------------------------------------


def test_jwks_is_cached_for_its_cache_control_max_age(gatehouse, verifier, clock, eddsa_kid):
    token = gatehouse.issue(eddsa_kid)
    verifier.verify(token)
    verifier.verify(token)
    clock.advance(299)
    verifier.verify(token)
    assert gatehouse.requests[JWKS_PATH] == 1

    clock.advance(2)
    verifier.verify(token)
    assert gatehouse.requests[JWKS_PATH] == 2


def test_jwks_max_age_from_the_header_is_honoured(gatehouse, verifier, clock, eddsa_kid):
    gatehouse.jwks_cache_control = "public, max-age=120"
    token = gatehouse.issue(eddsa_kid)
    verifier.verify(token)
    clock.advance(119)
    verifier.verify(token)
    assert gatehouse.requests[JWKS_PATH] == 1

    clock.advance(2)
    verifier.verify(token)
    assert gatehouse.requests[JWKS_PATH] == 2


def test_jwks_cache_seconds_overrides_the_header(gatehouse, clock, eddsa_kid):
    verifier = Verifier(gatehouse.url, jwks_cache_seconds=10, clock=clock)
    token = gatehouse.issue(eddsa_kid)
    verifier.verify(token)
    clock.advance(11)
    verifier.verify(token)

    assert gatehouse.requests[JWKS_PATH] == 2


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("public, max-age=300", 300),
        ("max-age=60", 60),
        ('max-age="90", public', 90),
        ("public", None),
        (None, None),
        ("no-store", 0),
        ("s-maxage=10", None),
    ],
)
def test_cache_control_max_age_parsing(header, seconds):
    assert cache_control_max_age(header) == seconds


def test_unknown_kid_refetches_the_jwks_at_most_once_a_minute(gatehouse, verifier, clock, eddsa_kid):
    verifier.verify(gatehouse.issue(eddsa_kid))  # first fetch at t=0
    rotated = gatehouse.add_key("ES256")  # published now, after our fetch
    new_token = gatehouse.issue(rotated)

    clock.advance(10)
    assert refused(verifier, new_token).code == codes.UNKNOWN_KID
    assert gatehouse.requests[JWKS_PATH] == 1  # fetched 10 s ago: not again

    clock.advance(51)
    assert verifier.verify(new_token).sub == "42"  # 61 s: one refetch finds the new key
    assert gatehouse.requests[JWKS_PATH] == 2

    forged_kids = [
        hand_made_jwt({"alg": "EdDSA", "kid": f"random-{n}"}, gatehouse.claims(), b"x") for n in range(20)
    ]
    for forged in forged_kids:
        clock.advance(1)
        assert refused(verifier, forged).code == codes.UNKNOWN_KID
    assert gatehouse.requests[JWKS_PATH] == 2

    clock.advance(40)
    assert refused(verifier, forged_kids[0]).code == codes.UNKNOWN_KID
    assert gatehouse.requests[JWKS_PATH] == 3


def test_retired_key_stops_working_when_the_cache_expires(gatehouse, verifier, clock, eddsa_kid):
    token = gatehouse.issue(eddsa_kid)
    verifier.verify(token)
    gatehouse.published.remove(eddsa_kid)

    clock.advance(301)

    assert refused(verifier, token).code == codes.UNKNOWN_KID


def test_concurrent_first_requests_fetch_the_jwks_once(gatehouse, verifier, eddsa_kid):
    token = gatehouse.issue(eddsa_kid)
    results = []

    def work():
        results.append(verifier.verify(token).sub)

    threads = [threading.Thread(target=work) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert results == ["42"] * 16
    assert gatehouse.requests[JWKS_PATH] == 1
    assert gatehouse.requests[DISCOVERY_PATH] == 1


def test_stale_jwks_is_used_while_gatehouse_is_down_then_given_up(gatehouse, clock, eddsa_kid):
    verifier = Verifier(gatehouse.url, jwks_max_stale_seconds=1800, clock=clock)
    token = gatehouse.issue(eddsa_kid)
    verifier.verify(token)
    gatehouse.fail[JWKS_PATH] = 503

    clock.advance(301)
    assert verifier.verify(token).sub == "42"
    assert gatehouse.requests[JWKS_PATH] == 2
    clock.advance(59)
    assert verifier.verify(token).sub == "42"
    assert gatehouse.requests[JWKS_PATH] == 2  # retried at most once a minute while down
    clock.advance(2)
    assert verifier.verify(token).sub == "42"
    assert gatehouse.requests[JWKS_PATH] == 3

    clock.advance(1800)
    with pytest.raises(GatehouseUnavailable) as caught:
        verifier.verify(token)
    assert caught.value.code == codes.JWKS_UNAVAILABLE


# Network failures -------------------------------------------------------------------------


def test_unreachable_gatehouse_is_gatehouse_unavailable_not_invalid_token(
    gatehouse, closed_port_url, eddsa_kid
):
    token = gatehouse.issue(eddsa_kid)

    with pytest.raises(GatehouseUnavailable) as discovery:
        Verifier(closed_port_url, timeout=1).verify(token)
    with pytest.raises(GatehouseUnavailable) as jwks:
        Verifier(closed_port_url, issuer=gatehouse.issuer, timeout=1).verify(token)
    with pytest.raises(GatehouseUnavailable) as introspection:
        Verifier(closed_port_url, issuer="x", introspection_key=INTROSPECTION_KEY, timeout=1).verify(API_KEY)

    assert discovery.value.code == codes.DISCOVERY_UNAVAILABLE
    assert jwks.value.code == codes.JWKS_UNAVAILABLE
    assert introspection.value.code == codes.INTROSPECTION_UNAVAILABLE
    assert not isinstance(discovery.value, InvalidToken)


def test_jwks_server_error_is_gatehouse_unavailable(gatehouse, verifier, eddsa_kid):
    gatehouse.fail[JWKS_PATH] = 500

    with pytest.raises(GatehouseUnavailable) as caught:
        verifier.verify(gatehouse.issue(eddsa_kid))

    assert caught.value.code == codes.JWKS_UNAVAILABLE


def test_after_a_failure_requests_fail_fast_then_retry(gatehouse, verifier, clock, eddsa_kid):
    gatehouse.fail[JWKS_PATH] = 502
    token = gatehouse.issue(eddsa_kid)
    for _ in range(5):
        with pytest.raises(GatehouseUnavailable):
            verifier.verify(token)
    assert gatehouse.requests[JWKS_PATH] == 1

    del gatehouse.fail[JWKS_PATH]
    clock.advance(6)
    assert verifier.verify(token).sub == "42"


def test_warm_up_fetches_discovery_and_jwks(gatehouse, verifier, eddsa_kid):
    verifier.warm_up()

    assert gatehouse.requests[DISCOVERY_PATH] == 1
    assert gatehouse.requests[JWKS_PATH] == 1


# Introspection ----------------------------------------------------------------------------


def test_api_key_is_introspected_and_the_answer_cached_briefly(gatehouse, verifier, clock):
    answer = gatehouse.answer(API_KEY, scope="profile:read inference:predict")

    principal = verifier.verify(API_KEY)
    again = verifier.verify(API_KEY)

    assert (
        principal
        == again
        == Principal(
            sub="42",
            role="developer",
            scopes=frozenset({"profile:read", "inference:predict"}),
            token_type="api_key",
            verified_by="introspection",
            username="alice",
            session_id=None,
            expires_at=datetime.fromtimestamp(answer["exp"], tz=UTC),
            key_prefix="3f9a0c1b7d2e",
        )
    )
    assert gatehouse.introspected == [API_KEY]

    clock.advance(5)
    verifier.verify(API_KEY)
    assert gatehouse.introspected == [API_KEY, API_KEY]


def test_introspection_cache_never_holds_the_raw_credential(gatehouse, verifier):
    gatehouse.answer(API_KEY)
    verifier.verify(API_KEY)
    refused(verifier, API_KEY + "x")

    cache = verifier._introspection_cache
    assert len(cache) == 2
    assert all(len(digest) == 32 for digest in cache)
    assert API_KEY not in repr(list(cache.items()))


def test_inactive_key_is_refused_and_that_is_cached_too(gatehouse, verifier, clock):
    error = refused(verifier, API_KEY)
    refused(verifier, API_KEY)

    assert (error.code, error.detail) == (codes.TOKEN_INACTIVE, codes.MSG_TOKEN_INACTIVE)
    assert gatehouse.introspected == [API_KEY]

    clock.advance(5)
    gatehouse.answer(API_KEY)
    assert verifier.verify(API_KEY).username == "alice"


def test_revoked_key_is_refused_once_the_cache_expires(gatehouse, verifier, clock):
    gatehouse.answer(API_KEY)
    verifier.verify(API_KEY)
    gatehouse.introspection_answers[API_KEY] = {"active": False}

    clock.advance(4)
    assert verifier.verify(API_KEY).sub == "42"
    clock.advance(1)
    assert refused(verifier, API_KEY).code == codes.TOKEN_INACTIVE


def test_introspection_cache_can_be_turned_off(gatehouse, clock):
    verifier = Verifier(
        gatehouse.url, introspection_key=INTROSPECTION_KEY, introspection_cache_seconds=0, clock=clock
    )
    gatehouse.answer(API_KEY)
    verifier.verify(API_KEY)
    verifier.verify(API_KEY)

    assert len(gatehouse.introspected) == 2


def test_introspect_true_asks_gatehouse_about_an_access_token(gatehouse, verifier, eddsa_kid):
    token = gatehouse.issue(eddsa_kid)
    gatehouse.answer(
        token, token_type="access_token", sid="7", key_prefix=None, scope="profile:read profile:write"
    )

    principal = verifier.verify(token, introspect=True)

    assert gatehouse.introspected == [token]
    assert (principal.verified_by, principal.token_type, principal.username, principal.session_id) == (
        "introspection",
        "access_token",
        "alice",
        "7",
    )
    assert gatehouse.requests[JWKS_PATH] == 0


def test_introspect_true_refuses_a_revoked_access_token_that_is_still_valid_locally(
    gatehouse, verifier, eddsa_kid
):
    token = gatehouse.issue(eddsa_kid)

    assert verifier.verify(token).sub == "42"
    assert refused(verifier, token, introspect=True).code == codes.TOKEN_INACTIVE


def test_introspected_access_token_for_another_audience_is_refused(gatehouse, verifier, eddsa_kid):
    token = gatehouse.issue(eddsa_kid)
    gatehouse.answer(token, token_type="access_token", aud="chat-backend")

    assert refused(verifier, token, introspect=True).detail == codes.MSG_WRONG_AUDIENCE


def test_introspection_answer_that_is_already_expired_is_refused(gatehouse, verifier):
    gatehouse.answer(API_KEY, exp=int(time.time()) - 5)

    assert refused(verifier, API_KEY).code == codes.TOKEN_EXPIRED


def test_introspection_uses_the_endpoint_from_the_discovery_document(gatehouse, verifier):
    gatehouse.introspection_path = "/custom/introspect"
    gatehouse.answer(API_KEY)

    assert verifier.verify(API_KEY).sub == "42"
    assert gatehouse.requests["/custom/introspect"] == 1


def test_refused_introspection_key_is_gatehouse_unavailable(gatehouse, clock):
    for key in ("gk_000000000000_wrong", WEAK_KEY):
        verifier = Verifier(gatehouse.url, introspection_key=key, clock=clock)
        with pytest.raises(GatehouseUnavailable) as caught:
            verifier.verify(API_KEY)
        assert caught.value.code == codes.INTROSPECTION_REFUSED


def test_introspection_server_error_is_gatehouse_unavailable_and_not_cached(gatehouse, verifier):
    gatehouse.fail[INTROSPECTION_PATH] = 500
    with pytest.raises(GatehouseUnavailable) as caught:
        verifier.verify(API_KEY)
    assert caught.value.code == codes.INTROSPECTION_UNAVAILABLE

    del gatehouse.fail[INTROSPECTION_PATH]
    gatehouse.answer(API_KEY)
    assert verifier.verify(API_KEY).sub == "42"


def test_api_key_without_an_introspection_key_configured_is_refused(gatehouse, clock, eddsa_kid):
    verifier = Verifier(gatehouse.url, clock=clock)

    assert refused(verifier, API_KEY).code == codes.API_KEY_NOT_ACCEPTED
    with pytest.raises(ValueError):
        verifier.verify(gatehouse.issue(eddsa_kid), introspect=True)
    assert gatehouse.requests[INTROSPECTION_PATH] == 0


def test_principal_is_immutable_and_hashable(gatehouse, verifier, eddsa_kid):
    principal = verifier.verify(gatehouse.issue(eddsa_kid))

    with pytest.raises(AttributeError):
        principal.role = "admin"
    with pytest.raises(TypeError):
        principal.claims["role"] = "admin"
    assert hash(principal) == hash(principal)
    assert principal.is_authenticated and principal.pk == "42"
    assert AUDIENCE in principal.claims["aud"]


# Discovery ----------------------------------------------------------------------------------


def test_discovery_document_is_fetched_once_and_kept_for_an_hour(gatehouse, verifier, clock, eddsa_kid):
    token = gatehouse.issue(eddsa_kid)
    verifier.verify(token)
    clock.advance(3599)
    verifier.verify(token)
    assert gatehouse.requests[DISCOVERY_PATH] == 1

    clock.advance(2)
    verifier.verify(token)
    assert gatehouse.requests[DISCOVERY_PATH] == 2


def test_explicit_issuer_and_urls_skip_discovery(gatehouse, clock, eddsa_kid):
    verifier = Verifier(
        "http://unused.invalid",
        issuer=gatehouse.issuer,
        jwks_url=gatehouse.url + JWKS_PATH,
        introspection_url=gatehouse.url + INTROSPECTION_PATH,
        introspection_key=INTROSPECTION_KEY,
        clock=clock,
    )
    gatehouse.answer(API_KEY)

    assert verifier.verify(gatehouse.issue(eddsa_kid)).sub == "42"
    assert verifier.verify(API_KEY).sub == "42"
    assert gatehouse.requests[DISCOVERY_PATH] == 0


def test_explicit_issuer_falls_back_to_the_contracts_paths_when_discovery_is_down(
    gatehouse, clock, eddsa_kid
):
    gatehouse.fail[DISCOVERY_PATH] = 500
    verifier = Verifier(gatehouse.url, issuer=gatehouse.issuer, clock=clock)

    assert verifier.verify(gatehouse.issue(eddsa_kid)).sub == "42"


def test_stale_discovery_document_is_used_while_gatehouse_is_down(gatehouse, verifier, clock, eddsa_kid):
    token = gatehouse.issue(eddsa_kid)
    verifier.verify(token)
    gatehouse.fail[DISCOVERY_PATH] = 503

    clock.advance(3601)

    assert verifier.verify(token).sub == "42"
    assert gatehouse.requests[DISCOVERY_PATH] == 2
    clock.advance(30)
    assert verifier.verify(token).sub == "42"
    assert gatehouse.requests[DISCOVERY_PATH] == 2  # retried at most once a minute while down
