"""Check Gatehouse access tokens and API keys in other services."""

from gatehouse_client.errors import GatehouseError, GatehouseUnavailable, InvalidToken
from gatehouse_client.principal import ROLE_SCOPES, Principal
from gatehouse_client.verifier import Verifier, __version__

__all__ = [
    "ROLE_SCOPES",
    "GatehouseError",
    "GatehouseUnavailable",
    "InvalidToken",
    "Principal",
    "Verifier",
    "__version__",
]
