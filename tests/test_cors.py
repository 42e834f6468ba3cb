"""CORS for browser apps on other origins: listed origins only, /api/v1/ only, never "*"."""

from http import HTTPStatus

import pytest
from corsheaders.middleware import CorsMiddleware as CorsHeadersMiddleware
from django.http import HttpResponse
from django.test import RequestFactory

from config.middleware import CorsMiddleware
from tests.test_settings_profiles import manage

APP = "https://app.example.com"


@pytest.fixture
def cors(settings):
    settings.CORS_ALLOWED_ORIGINS = [APP, "http://localhost:5173"]
    return settings


def preflight(
    client, path: str, origin: str, method: str = "POST", headers: str = "authorization,content-type"
):
    return client.options(
        path,
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD=method,
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS=headers,
    )


def test_a_preflight_from_a_listed_origin_is_allowed(client, cors):
    response = preflight(client, "/api/v1/auth/login", APP)
    assert response.status_code == HTTPStatus.OK
    assert response["Access-Control-Allow-Origin"] == APP
    assert response["Access-Control-Allow-Headers"] == "authorization, content-type, x-api-key, x-request-id"
    assert set(response["Access-Control-Allow-Methods"].split(", ")) == {
        "DELETE",
        "GET",
        "OPTIONS",
        "PATCH",
        "POST",
    }
    assert "Access-Control-Allow-Credentials" not in response
    assert "origin" in response["Vary"].lower()


@pytest.mark.parametrize(
    "origin",
    ["https://evil.example.com", "http://app.example.com", "null", "https://app.example.com.evil.io"],
)
def test_a_preflight_from_an_unlisted_origin_is_not_allowed(client, cors, origin):
    response = preflight(client, "/api/v1/auth/me", origin, method="GET")
    assert "Access-Control-Allow-Origin" not in response
    assert "Access-Control-Allow-Headers" not in response


def test_no_origin_is_allowed_by_default(client):
    response = preflight(client, "/api/v1/auth/login", APP)
    assert "Access-Control-Allow-Origin" not in response


def test_answers_to_a_listed_origin_expose_retry_after_and_the_request_id(client, cors, settings, db):
    settings.RATELIMIT_AUTH = "1/m"
    body = {"username": "nobody", "password": "wrong words here"}
    client.post("/api/v1/auth/login", body, content_type="application/json", HTTP_ORIGIN=APP)
    limited = client.post("/api/v1/auth/login", body, content_type="application/json", HTTP_ORIGIN=APP)
    assert limited.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert limited["Access-Control-Allow-Origin"] == APP
    assert limited["Access-Control-Expose-Headers"] == "Retry-After, X-Request-ID"
    assert limited["Retry-After"] and limited["X-Request-ID"]


def test_cors_covers_only_the_api(client, cors, db):
    for path in ("/admin/login/", "/api/schema", "/api/docs"):
        response = client.get(path, HTTP_ORIGIN=APP)
        assert "Access-Control-Allow-Origin" not in response, path
    response = preflight(client, "/admin/login/", APP)
    assert "Access-Control-Allow-Origin" not in response


CORS_HEADERS = (
    "Vary",
    "Access-Control-Allow-Origin",
    "Access-Control-Allow-Headers",
    "Access-Control-Allow-Methods",
)


def _cors_view_of(response) -> dict:
    return {name: response.get(name) for name in CORS_HEADERS} | {"status": response.status_code}


@pytest.mark.parametrize(
    ("method", "path", "headers"),
    [
        ("get", "/api/v1/", {}),
        ("get", "/api/v1/auth/me", {}),
        ("post", "/api/v1/auth/login", {}),
        ("get", "/admin/login/", {}),
        ("options", "/api/v1/auth/login", {"HTTP_ACCESS_CONTROL_REQUEST_METHOD": "POST"}),
        ("get", "/api/v1/", {"HTTP_ORIGIN": APP}),
        ("get", "/api/v1/", {"HTTP_ORIGIN": "https://evil.example.com"}),
    ],
)
def test_cors_answers_as_django_cors_headers_does(cors, method, path, headers):
    """config.middleware.CorsMiddleware skips corsheaders' work for requests without an Origin;
    what every answer says about CORS is what corsheaders' own middleware says."""

    def view(request):
        response = HttpResponse("{}", content_type="application/json")
        response["Vary"] = "Accept"  # a view's own Vary is kept, origin added to it
        return response

    answers = []
    for middleware in (CorsMiddleware(view), CorsHeadersMiddleware(view)):
        request = getattr(RequestFactory(), method)(path, **headers)
        answers.append(_cors_view_of(middleware(request)))
    assert answers[0] == answers[1]


def test_an_api_answer_to_a_program_varies_on_origin_but_allows_none(client, cors):
    response = client.get("/api/v1/")
    assert response.status_code == HTTPStatus.OK
    assert "origin" in response["Vary"].lower()
    assert not [name for name in response.headers if name.lower().startswith("access-control-")]


def test_cors_origins_come_from_the_environment():
    result = manage(
        "shell",
        "-c",
        "from django.conf import settings; print(settings.CORS_ALLOWED_ORIGINS)",
        env={"CORS_ALLOWED_ORIGINS": " https://App.Example.com , http://localhost:5173"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "['https://app.example.com', 'http://localhost:5173']"


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("*", "error: CORS_ALLOWED_ORIGINS takes origins like https://app.example.com[:port], not '*'"),
        (
            "https://app.example.com/",
            "error: CORS_ALLOWED_ORIGINS takes origins like https://app.example.com[:port], not 'https://app.example.com/'",
        ),
        (
            "app.example.com",
            "error: CORS_ALLOWED_ORIGINS takes origins like https://app.example.com[:port], not 'app.example.com'",
        ),
        ("null", "error: CORS_ALLOWED_ORIGINS takes origins like https://app.example.com[:port], not 'null'"),
        (
            "ftp://files.example.com",
            "error: CORS_ALLOWED_ORIGINS takes origins like https://app.example.com[:port], not 'ftp://files.example.com'",
        ),
        (
            "https://app.example.com:443",
            "error: CORS_ALLOWED_ORIGINS: drop the default port from 'https://app.example.com:443'",
        ),
    ],
)
def test_a_bad_cors_origin_stops_start_up_with_one_line(value, error):
    result = manage("check", env={"CORS_ALLOWED_ORIGINS": value})
    assert result.returncode == 1
    assert result.stderr.strip() == error
