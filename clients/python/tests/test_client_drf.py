"""DRF authentication class: Bearer / X-API-Key in, Principal as request.user, codes out.

Runs inside the repo's Django suite (settings already configured) and standalone, where it
configures a minimal Django itself.
"""

from http import HTTPStatus

import pytest

pytest.importorskip("rest_framework")
from django.conf import settings  # noqa: E402

if not settings.configured:
    settings.configure(
        SECRET_KEY="gatehouse-client-tests-only",  # noqa: S106 - a throwaway test setting
        INSTALLED_APPS=["django.contrib.contenttypes", "rest_framework"],
        DATABASES={},
        REST_FRAMEWORK={"UNAUTHENTICATED_USER": None},
    )
    import django

    django.setup()

from gatehouse_client.drf import GatehouseAuthentication, GatehouseUnavailableError, HasRole, HasScope  # noqa: E402
from rest_framework import exceptions  # noqa: E402
from rest_framework.permissions import IsAuthenticated  # noqa: E402
from rest_framework.response import Response  # noqa: E402
from rest_framework.test import APIRequestFactory  # noqa: E402
from rest_framework.views import APIView  # noqa: E402

API_KEY = "gk_3f9a0c1b7d2e_Vb4s1Q0xq9yJm2pPqT8hZrWm3YdK5nC7eL1fA6gH2jI"


@pytest.fixture
def authentication(verifier):
    return type("TestAuthentication", (GatehouseAuthentication,), {"verifier": verifier})


@pytest.fixture
def view(authentication):
    class PredictView(APIView):
        authentication_classes = [authentication]
        permission_classes = [IsAuthenticated, HasRole.of("developer", "admin")]
        throttle_classes = []  # the hosting project's throttles are not under test

        def get(self, request):
            return Response({"sub": request.user.sub, "same": request.user is request.auth})

    return PredictView.as_view()


def error_code(response) -> str:
    """The code whether the project's exception handler flattens it or DRF's default keeps it."""
    data = response.data
    return data["code"] if "code" in data else data["detail"].code


def get(view, **headers):
    return view(APIRequestFactory().get("/predict", **headers))


def test_valid_access_token_authenticates_as_the_principal(view, gatehouse, eddsa_kid):
    response = get(view, HTTP_AUTHORIZATION=f"Bearer {gatehouse.issue(eddsa_kid)}")

    assert (response.status_code, response.data) == (HTTPStatus.OK, {"sub": "42", "same": True})


def test_no_credential_is_401_with_a_bearer_challenge(view):
    response = get(view)

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert error_code(response) == "not_authenticated"
    assert response["WWW-Authenticate"] == "Bearer"


def test_expired_token_is_401_token_expired(view, gatehouse, eddsa_kid):
    response = get(view, HTTP_AUTHORIZATION=f"Bearer {gatehouse.issue(eddsa_kid, iat=1, exp=2)}")

    assert (response.status_code, error_code(response)) == (HTTPStatus.UNAUTHORIZED, "token_expired")


def test_wrong_role_is_403(view, gatehouse, eddsa_kid):
    response = get(view, HTTP_AUTHORIZATION=f"Bearer {gatehouse.issue(eddsa_kid, role='guest')}")

    assert response.status_code == HTTPStatus.FORBIDDEN


def test_api_key_in_x_api_key_is_introspected(view, gatehouse):
    gatehouse.answer(API_KEY, sub="5", role="admin")

    assert get(view, HTTP_X_API_KEY=API_KEY).data == {"sub": "5", "same": True}


def test_authenticate_returns_none_for_other_schemes_and_raises_with_the_code(
    authentication, gatehouse, eddsa_kid
):
    factory = APIRequestFactory()
    auth = authentication()

    assert auth.authenticate(factory.get("/", HTTP_AUTHORIZATION="Basic YWxpY2U6c2VjcmV0")) is None
    with pytest.raises(exceptions.AuthenticationFailed) as caught:
        auth.authenticate(
            factory.get("/", HTTP_AUTHORIZATION="Bearer " + gatehouse.issue(eddsa_kid, token_type="refresh"))
        )
    assert caught.value.get_codes() == "token_not_valid"
    with pytest.raises(exceptions.AuthenticationFailed) as inactive:
        auth.authenticate(factory.get("/", HTTP_X_API_KEY=API_KEY))
    assert inactive.value.get_codes() == "token_inactive"


def test_gatehouse_down_is_503(authentication, gatehouse, eddsa_kid):
    gatehouse.fail["/.well-known/jwks.json"] = 500

    with pytest.raises(GatehouseUnavailableError) as caught:
        authentication().authenticate(
            APIRequestFactory().get("/", HTTP_AUTHORIZATION="Bearer " + gatehouse.issue(eddsa_kid))
        )

    assert (caught.value.status_code, caught.value.get_codes()) == (
        HTTPStatus.SERVICE_UNAVAILABLE,
        "jwks_unavailable",
    )


def test_has_scope_checks_the_principals_scopes(authentication, gatehouse):
    gatehouse.answer(API_KEY, scope="profile:read")

    class KeysView(APIView):
        authentication_classes = [authentication]
        permission_classes = [HasScope.of("keys:read")]
        throttle_classes = []

        def get(self, request):
            return Response({})

    assert get(KeysView.as_view(), HTTP_X_API_KEY=API_KEY).status_code == HTTPStatus.FORBIDDEN
