"""The example inference app: /health open, /predict for developers or keys with the scope."""

import importlib.util
from http import HTTPStatus
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
from fake_gatehouse import INTROSPECTION_KEY  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

API_KEY = "gk_3f9a0c1b7d2e_Vb4s1Q0xq9yJm2pPqT8hZrWm3YdK5nC7eL1fA6gH2jI"
EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "inference_app.py"


@pytest.fixture(scope="module")
def example():
    spec = importlib.util.spec_from_file_location("gatehouse_example_inference_app", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def client(example, verifier):
    return TestClient(
        example.create_app(verifier, roles=("developer",), scope="inference:predict", introspect=False)
    )


def predict(client, headers):
    return client.post("/predict", json={"inputs": [1, 2, 3]}, headers=headers)


def test_health_is_open(client, gatehouse):
    assert client.get("/health").json() == {"status": "ok"}
    assert sum(gatehouse.requests.values()) == 0


def test_predict_without_a_credential_is_401(client):
    response = predict(client, {})

    assert (response.status_code, response.json()["code"]) == (HTTPStatus.UNAUTHORIZED, "not_authenticated")
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_developer_access_token_may_predict(client, gatehouse, eddsa_kid):
    response = predict(client, {"Authorization": f"Bearer {gatehouse.issue(eddsa_kid, role='developer')}"})

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {
        "outputs": [1.0, 3.0, 6.0],
        "sub": "42",
        "role": "developer",
        "verified_by": "jwks",
    }


def test_user_access_token_is_403(client, gatehouse, eddsa_kid):
    response = predict(client, {"Authorization": f"Bearer {gatehouse.issue(eddsa_kid, role='user')}"})

    assert (response.status_code, response.json()["code"]) == (HTTPStatus.FORBIDDEN, "permission_denied")


def test_key_with_the_scope_may_predict_whatever_its_owners_role(client, gatehouse):
    gatehouse.answer(API_KEY, role="service_account", scope="profile:read inference:predict")

    response = predict(client, {"X-API-Key": API_KEY})

    assert (response.status_code, response.json()["verified_by"]) == (HTTPStatus.OK, "introspection")


def test_developers_key_may_predict_without_the_scope(client, gatehouse):
    gatehouse.answer(API_KEY, role="developer", scope="profile:read")

    assert predict(client, {"Authorization": f"Bearer {API_KEY}"}).status_code == HTTPStatus.OK


def test_users_key_without_the_scope_is_403(client, gatehouse):
    gatehouse.answer(API_KEY, role="user", scope="profile:read keys:read")

    assert predict(client, {"X-API-Key": API_KEY}).status_code == HTTPStatus.FORBIDDEN


def test_revoked_key_is_401_token_inactive(client):
    response = predict(client, {"X-API-Key": API_KEY})

    assert (response.status_code, response.json()["code"]) == (HTTPStatus.UNAUTHORIZED, "token_inactive")


def test_whoami_describes_the_principal(client, gatehouse):
    gatehouse.answer(API_KEY)

    body = client.get("/whoami", headers={"X-API-Key": API_KEY}).json()

    assert {k: body[k] for k in ("sub", "username", "token_type", "key_prefix")} == {
        "sub": "42",
        "username": "alice",
        "token_type": "api_key",
        "key_prefix": "3f9a0c1b7d2e",
    }


def test_readme_fastapi_example_works_as_written(gatehouse, eddsa_kid):
    readme = (EXAMPLE.parent.parent / "README.md").read_text()
    section = readme.split("## FastAPI in ten lines", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    code = code.replace("https://id.example.com", gatehouse.url).replace('"gk_…"', repr(INTROSPECTION_KEY))
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - our own README's example
    client = TestClient(namespace["app"])
    gatehouse.answer(API_KEY, role="user", scope="inference:predict")

    assert client.get("/health").status_code == HTTPStatus.OK
    assert client.post("/predict").status_code == HTTPStatus.UNAUTHORIZED
    assert client.post("/predict", headers={"X-API-Key": API_KEY}).json() == {"for": "42"}
    user_token = gatehouse.issue(eddsa_kid, role="user")
    assert (
        client.post("/predict", headers={"Authorization": f"Bearer {user_token}"}).status_code
        == HTTPStatus.FORBIDDEN
    )
