from accounts.models import User
from apikeys.models import APIKey
from apikeys.services import apikey_create


def api_key_create(
    owner: User, *, name: str = "test key", scopes: list[str] | None = None, **kwargs
) -> tuple[APIKey, str]:
    """A key made by the service the API and the command use: (row, full key shown once)."""
    return apikey_create(owner=owner, name=name, scopes=scopes or ["profile:read"], **kwargs)
