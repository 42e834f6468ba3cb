from rest_framework.test import APIClient

from accounts.tests.factories import PASSWORD


def login(client: APIClient, username: str, password: str = PASSWORD, **extra) -> dict:
    """Log in through the API and return the token response."""
    response = client.post(
        "/api/v1/auth/login", {"username": username, "password": password, **extra}, format="json"
    )
    assert response.status_code == 200, response.content
    return response.json()


def bearer_client(credential: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {credential}")
    return client
