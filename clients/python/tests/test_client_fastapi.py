"""FastAPI dependencies: 401 without or with a bad credential, 403 without the role/scope, 200 with it."""

from http import HTTPStatus
from typing import Annotated

import pytest

pytest.importorskip("fastapi")
from fastapi import Depends, FastAPI  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from gatehouse_client import Principal  # noqa: E402
from gatehouse_client.fastapi import (  # noqa: E402
    authenticated,
    install_exception_handler,
    require,
    require_role,
    require_scope,
)

API_KEY = "gk_3f9a0c1b7d2e_Vb4s1Q0xq9yJm2pPqT8hZrWm3YdK5nC7eL1fA6gH2jI"


@pytest.fixture
def client(verifier):
    app = FastAPI()
    install_exception_handler(app)

    @app.get("/me")
    def me(principal: Annotated[Principal, Depends(authenticated(verifier))]):
        return {"sub": principal.sub, "via": principal.verified_by}

    @app.get("/models")
    def models(principal: Annotated[Principal, Depends(require_role(verifier, "developer", "admin"))]):
        return {"role": principal.role}

    @app.get("/keys")
    def keys(principal: Annotated[Principal, Depends(require_scope(verifier, "keys:read", "profile:read"))]):
        return {"ok": True}

    @app.get("/fresh")
    def fresh(principal: Annotated[Principal, Depends(authenticated(verifier, introspect=True))]):
        return {"via": principal.verified_by}

    @app.get("/custom")
    def custom(principal: Annotated[Principal, Depends(require(verifier, lambda p: p.sub == "42"))]):
        return {"ok": True}

    return TestClient(app)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_no_credential_is_401_not_authenticated_with_a_bearer_challenge(client):
    response = client.get("/models")

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json() == {
        "detail": "Authentication credentials were not provided.",
        "code": "not_authenticated",
    }
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_bad_token_is_401_with_the_verifiers_code(client, gatehouse, eddsa_kid):
    response = client.get("/me", headers=bearer(gatehouse.issue(eddsa_kid, aud="elsewhere")))

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json() == {
        "detail": "The token was not issued for this service.",
        "code": "token_not_valid",
    }
    assert response.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')


def test_expired_token_is_401_token_expired(client, gatehouse, eddsa_kid):
    response = client.get("/me", headers=bearer(gatehouse.issue(eddsa_kid, iat=1, exp=2)))

    assert (response.status_code, response.json()["code"]) == (HTTPStatus.UNAUTHORIZED, "token_expired")


def test_basic_auth_is_not_a_credential(client):
    response = client.get("/me", headers={"Authorization": "Basic YWxpY2U6c2VjcmV0"})

    assert response.json()["code"] == "not_authenticated"


def test_require_role_answers_200_for_the_role_and_403_for_another(client, gatehouse, eddsa_kid):
    ok = client.get("/models", headers=bearer(gatehouse.issue(eddsa_kid, role="developer")))
    denied = client.get("/models", headers=bearer(gatehouse.issue(eddsa_kid, role="user")))

    assert (ok.status_code, ok.json()) == (HTTPStatus.OK, {"role": "developer"})
    assert denied.status_code == HTTPStatus.FORBIDDEN
    assert denied.json() == {
        "detail": "You do not have permission to perform this action.",
        "code": "permission_denied",
    }
    assert "WWW-Authenticate" not in denied.headers


def test_require_scope_checks_an_api_keys_own_scopes(client, gatehouse):
    gatehouse.answer(API_KEY, scope="profile:read keys:read")
    weaker = API_KEY[:-1] + "X"
    gatehouse.answer(weaker, scope="profile:read")

    assert client.get("/keys", headers={"X-API-Key": API_KEY}).status_code == HTTPStatus.OK
    assert client.get("/keys", headers=bearer(API_KEY)).status_code == HTTPStatus.OK
    assert client.get("/keys", headers={"X-API-Key": weaker}).status_code == HTTPStatus.FORBIDDEN


def test_require_scope_for_an_access_token_uses_its_roles_scopes(client, gatehouse, eddsa_kid):
    assert (
        client.get("/keys", headers=bearer(gatehouse.issue(eddsa_kid, role="guest"))).status_code
        == HTTPStatus.OK
    )


def test_inactive_api_key_is_401_token_inactive(client):
    response = client.get("/me", headers={"X-API-Key": API_KEY})

    assert (response.status_code, response.json()["code"]) == (HTTPStatus.UNAUTHORIZED, "token_inactive")


def test_introspecting_dependency_sends_access_tokens_to_gatehouse(client, gatehouse, clock, eddsa_kid):
    token = gatehouse.issue(eddsa_kid)

    assert client.get("/me", headers=bearer(token)).json() == {"sub": "42", "via": "jwks"}
    assert client.get("/fresh", headers=bearer(token)).json()["code"] == "token_inactive"  # revoked
    gatehouse.answer(token, token_type="access_token", sid="7")
    clock.advance(5)
    assert client.get("/fresh", headers=bearer(token)).json() == {"via": "introspection"}
    assert gatehouse.introspected == [token, token]


def test_custom_check_with_require(client, gatehouse, eddsa_kid):
    assert client.get("/custom", headers=bearer(gatehouse.issue(eddsa_kid))).status_code == HTTPStatus.OK
    assert (
        client.get("/custom", headers=bearer(gatehouse.issue(eddsa_kid, sub="9"))).status_code
        == HTTPStatus.FORBIDDEN
    )


def test_gatehouse_down_is_503_with_the_code(client, gatehouse, eddsa_kid):
    gatehouse.fail["/.well-known/jwks.json"] = 503

    response = client.get("/me", headers=bearer(gatehouse.issue(eddsa_kid)))

    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response.json() == {
        "detail": "Gatehouse's signing keys could not be fetched.",
        "code": "jwks_unavailable",
    }
    assert response.headers["Retry-After"] == "5"


def test_without_the_exception_handler_fastapi_still_answers_401(verifier):
    app = FastAPI()

    @app.get("/me")
    def me(principal: Annotated[Principal, Depends(authenticated(verifier))]):
        return {}

    response = TestClient(app).get("/me")

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json() == {"detail": "Authentication credentials were not provided."}
    assert response.headers["WWW-Authenticate"] == "Bearer"
