"""The published schema states the real constraints, and the server refuses what it forbids."""

import pytest

from accounts.api.serializers import NOT_A_STRING, USERNAME_AND_EMAIL
from accounts.tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema(client):
    return client.get("/api/schema?format=json").json()


def test_verify_refuses_a_token_that_is_not_a_string(client):
    response = client.post("/api/v1/auth/verify", {"token": 12345}, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"token": [NOT_A_STRING]}


def test_login_with_both_username_and_email_is_refused_as_the_schema_says(client):
    user = UserFactory()
    body = {"username": user.username, "email": user.email, "password": PASSWORD}
    response = client.post("/api/v1/auth/login", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"username": [USERNAME_AND_EMAIL]}


def test_schema_states_login_one_of_password_rules_scopes_and_rate_limit_shape(schema):
    components = schema["components"]["schemas"]
    assert components["LoginRequest"]["oneOf"] == [
        {"required": ["username"], "title": "By username"},
        {"required": ["email"], "title": "By email address"},
    ]
    password = components["RegisterRequest"]["properties"]["password"]
    assert password["minLength"] == 12 and "not a common password" in password["description"]
    assert components["RegisterRequest"]["properties"]["username"]["pattern"] == "^[A-Za-z0-9_.-]{3,150}$"
    scopes = components["APIKeyCreateRequest"]["properties"]["scopes"]
    assert scopes["minItems"] == 1
    assert set(components["ScopesEnum"]["enum"]) >= {"profile:read", "admin:write", "tokens:introspect"}
    rate = components["APIKeyCreateRequest"]["properties"]["rate_limit"]["oneOf"][0]
    assert rate["pattern"] == "^([1-9][0-9]{0,6}/[smhd])?$"
    search = next(
        p for p in schema["paths"]["/api/v1/admin/users"]["get"]["parameters"] if p["name"] == "search"
    )
    assert search["schema"]["pattern"] == "^[^\\u0000]*$"


def test_schema_links_login_keys_and_sessions_to_where_they_lead(schema):
    paths = schema["paths"]
    login = paths["/api/v1/auth/login"]["post"]["responses"]["200"]["links"]
    assert login["Refresh"]["requestBody"] == {"refresh_token": "$response.body#/refresh_token"}
    assert login["Me"]["parameters"] == {"header.Authorization": "Bearer {$response.body#/access_token}"}
    created = paths["/api/v1/api-keys"]["post"]["responses"]["201"]["links"]
    assert created["GetApiKey"]["operationId"] == "api_v1_api_keys_retrieve"
    assert created["RevokeApiKey"]["parameters"] == {"key_id": "$response.body#/id"}
    sessions = paths["/api/v1/auth/sessions"]["get"]["responses"]["200"]["links"]
    assert sessions["RevokeSession"]["parameters"] == {"session_id": "$response.body#/0/id"}


def test_every_operation_documents_the_error_shape_for_its_errors(schema):
    for operations in schema["paths"].values():
        for operation in operations.values():
            for status in ("400", "401", "403", "404", "429"):
                content = operation["responses"][status]["content"]["application/json"]
                assert content["schema"] == {"$ref": "#/components/schemas/Error"}
