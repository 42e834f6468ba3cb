"""WSGI and ASGI middleware: open paths pass, protected paths need a valid credential."""

import json
from http import HTTPStatus
from wsgiref.util import setup_testing_defaults

import pytest
from gatehouse_client.middleware import GatehouseASGIMiddleware, GatehouseWSGIMiddleware

API_KEY = "gk_3f9a0c1b7d2e_Vb4s1Q0xq9yJm2pPqT8hZrWm3YdK5nC7eL1fA6gH2jI"


def wsgi_app(environ, start_response):
    principal = environ.get("gatehouse.principal")
    body = json.dumps({"sub": principal.sub if principal else None}).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


def call_wsgi(app, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], dict]:
    environ: dict = {"PATH_INFO": path}
    setup_testing_defaults(environ)
    for name, value in (headers or {}).items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    captured = {}

    def start_response(status, response_headers):
        captured["status"] = int(status.split()[0])
        captured["headers"] = dict(response_headers)

    body = b"".join(app(environ, start_response))
    return captured["status"], captured["headers"], json.loads(body)


@pytest.fixture
def wsgi(verifier):
    return GatehouseWSGIMiddleware(
        wsgi_app, verifier, protected_prefixes=["/api"], open_paths=["/api/health"]
    )


def test_wsgi_open_and_unprotected_paths_pass_without_a_credential(wsgi, gatehouse):
    assert call_wsgi(wsgi, "/api/health")[0] == HTTPStatus.OK
    assert call_wsgi(wsgi, "/api/health/live")[0] == HTTPStatus.OK
    assert call_wsgi(wsgi, "/")[0] == HTTPStatus.OK
    assert call_wsgi(wsgi, "/apiary")[0] == HTTPStatus.OK
    assert sum(gatehouse.requests.values()) == 0


def test_wsgi_protected_path_without_a_credential_is_401(wsgi):
    status, headers, body = call_wsgi(wsgi, "/api/predict")

    assert status == HTTPStatus.UNAUTHORIZED
    assert body == {"detail": "Authentication credentials were not provided.", "code": "not_authenticated"}
    assert headers["WWW-Authenticate"] == "Bearer"
    assert headers["Content-Type"] == "application/json"


def test_wsgi_healthz_is_not_mistaken_for_the_open_health_path(wsgi):
    assert call_wsgi(wsgi, "/api/healthz")[0] == HTTPStatus.UNAUTHORIZED


def test_wsgi_valid_token_reaches_the_app_with_the_principal(wsgi, gatehouse, eddsa_kid):
    status, _, body = call_wsgi(
        wsgi, "/api/predict", {"Authorization": f"Bearer {gatehouse.issue(eddsa_kid)}"}
    )

    assert (status, body) == (HTTPStatus.OK, {"sub": "42"})


def test_wsgi_bad_token_is_401_with_its_code(wsgi, gatehouse, eddsa_kid):
    status, headers, body = call_wsgi(
        wsgi, "/api/predict", {"Authorization": f"Bearer {gatehouse.issue(eddsa_kid, iat=1, exp=2)}"}
    )

    assert (status, body["code"]) == (HTTPStatus.UNAUTHORIZED, "token_expired")
    assert headers["WWW-Authenticate"].startswith("Bearer ")


def test_wsgi_api_key_header_is_introspected(wsgi, gatehouse):
    gatehouse.answer(API_KEY, sub="5")

    assert call_wsgi(wsgi, "/api/predict", {"X-API-Key": API_KEY})[2] == {"sub": "5"}


def test_wsgi_gatehouse_down_is_503(wsgi, gatehouse):
    gatehouse.fail["/api/v1/auth/introspect"] = 502

    status, headers, body = call_wsgi(wsgi, "/api/predict", {"X-API-Key": API_KEY})

    assert (status, body["code"]) == (HTTPStatus.SERVICE_UNAVAILABLE, "introspection_unavailable")
    assert headers["Retry-After"] == "5"


# ASGI -------------------------------------------------------------------------------------


async def asgi_app(scope, receive, send):
    if scope["type"] == "websocket":
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": scope["state"]["gatehouse_principal"].sub})
        await send({"type": "websocket.close", "code": 1000})
        return
    principal = scope.get("state", {}).get("gatehouse_principal")
    body = json.dumps(
        {"sub": principal.sub if principal else None, "same": principal is scope.get("gatehouse.principal")}
    )
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]}
    )
    await send({"type": "http.response.body", "body": body.encode()})


@pytest.fixture
def asgi(verifier):
    pytest.importorskip("starlette")
    from starlette.testclient import TestClient

    return TestClient(GatehouseASGIMiddleware(asgi_app, verifier))


def test_asgi_health_is_open_by_default(asgi):
    assert asgi.get("/health").json() == {"sub": None, "same": True}


def test_asgi_protected_path_without_a_credential_is_401(asgi):
    response = asgi.get("/predict")

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json() == {
        "detail": "Authentication credentials were not provided.",
        "code": "not_authenticated",
    }
    assert response.headers["www-authenticate"] == "Bearer"


def test_asgi_valid_token_puts_the_principal_in_the_scope_state(asgi, gatehouse, eddsa_kid):
    response = asgi.get("/predict", headers={"Authorization": f"Bearer {gatehouse.issue(eddsa_kid)}"})

    assert response.json() == {"sub": "42", "same": True}


def test_asgi_forged_token_is_401(asgi, gatehouse, eddsa_kid):
    forged = gatehouse.issue(eddsa_kid)[:-4] + "AAAA"

    response = asgi.get("/predict", headers={"Authorization": f"Bearer {forged}"})

    assert (response.status_code, response.json()["code"]) == (HTTPStatus.UNAUTHORIZED, "token_not_valid")


def test_asgi_api_key_is_introspected(asgi, gatehouse):
    gatehouse.answer(API_KEY, sub="5")

    assert asgi.get("/predict", headers={"X-API-Key": API_KEY}).json()["sub"] == "5"


def test_asgi_websocket_needs_a_credential(asgi, gatehouse, eddsa_kid):
    from starlette.websockets import WebSocketDisconnect

    with pytest.raises(WebSocketDisconnect) as refused, asgi.websocket_connect("/stream"):
        pass
    assert refused.value.code == 1008

    with asgi.websocket_connect(
        "/stream", headers={"Authorization": f"Bearer {gatehouse.issue(eddsa_kid)}"}
    ) as ws:
        assert ws.receive_text() == "42"
