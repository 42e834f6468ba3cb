"""Every error in the contract's shape with a stable code; never a 500 for client input."""

from http import HTTPStatus

import pytest

pytestmark = pytest.mark.django_db


def test_malformed_json_is_parse_error(api_client):
    response = api_client.post("/api/v1/auth/login", "{bad", content_type="application/json")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["code"] == "parse_error"
    assert set(response.json()) == {"detail", "code"}


def test_wrong_content_type_is_415(api_client):
    response = api_client.post(
        "/api/v1/auth/login", "username=a&password=b", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == HTTPStatus.UNSUPPORTED_MEDIA_TYPE
    assert response.json()["code"] == "unsupported_media_type"


def test_wrong_method_is_405(api_client):
    response = api_client.put("/api/v1/auth/login", {}, format="json")
    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert response.json()["code"] == "method_not_allowed"


@pytest.mark.parametrize("path", ["/api/v1/nope", "/api/v2/auth/login", "/api/"])
def test_unknown_api_paths_are_json_404(path):
    from rest_framework.test import APIClient

    client = APIClient(enforce_csrf_checks=True)  # as a real client: no CSRF page instead of a 404
    for response in (client.get(path), client.post(path, {}, format="json")):
        assert response.status_code == HTTPStatus.NOT_FOUND
        assert response.json() == {"detail": "Not found.", "code": "not_found"}


def test_trailing_slash_works_without_redirect_post_included(api_client, user, password):
    response = api_client.post(
        "/api/v1/auth/login/", {"username": "alice", "password": password}, format="json"
    )
    assert response.status_code == HTTPStatus.OK
    assert api_client.get("/api/v1/health/").status_code == HTTPStatus.OK


@pytest.mark.parametrize("body", ["[]", "null", "1", '"text"', '{"username": null, "password": null}'])
def test_json_of_the_wrong_shape_is_a_400(api_client, body):
    response = api_client.post("/api/v1/auth/login", body, content_type="application/json")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["code"] == "validation_error"


def test_body_over_the_limit_is_413(api_client):
    body = '{"username": "' + "a" * (1024 * 1024 + 10) + '", "password": "x"}'
    response = api_client.post("/api/v1/auth/register", body, content_type="application/json")
    assert response.status_code == HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    assert response.json()["code"] == "request_too_large"


@pytest.mark.parametrize("header", ["Bearer", "Bearer a b", "Bearer \u00e9t\u00e9", "Basic abc", "bearer "])
def test_odd_authorization_headers_never_500(api_client, header):
    response = api_client.get("/api/v1/auth/me", HTTP_AUTHORIZATION=header)
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json()["code"] in {"token_not_valid", "not_authenticated"}


def test_token_in_query_string_never_authenticates(api_client, tokens):
    response = api_client.get(f"/api/v1/auth/me?access_token={tokens['access_token']}")
    assert response.status_code == HTTPStatus.UNAUTHORIZED


def test_sid_that_is_not_a_uuid_is_token_not_valid(tokens, settings):
    import jwt

    from accounts.tests.helpers import bearer_client
    from accounts.tests.signing_helpers import sign_as_gatehouse

    payload = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    payload["sid"] = "../../etc/passwd"
    forged = sign_as_gatehouse(payload)
    response = bearer_client(forged).get("/api/v1/auth/me")
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json()["code"] == "token_not_valid"


def test_schema_and_docs_are_served(api_client):
    schema = api_client.get("/api/schema")
    assert schema.status_code == HTTPStatus.OK
    assert b"/api/v1/auth/login" in schema.content
    docs = api_client.get("/api/docs")
    assert docs.status_code == HTTPStatus.OK
    assert b"swagger" in docs.content.lower()
