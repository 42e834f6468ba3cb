"""What can go wrong when checking a Gatehouse credential, as exceptions with stable codes."""

from __future__ import annotations

# Codes of InvalidToken: the credential is not acceptable (answer 401).
TOKEN_NOT_VALID = "token_not_valid"
TOKEN_EXPIRED = "token_expired"
TOKEN_INACTIVE = "token_inactive"
UNKNOWN_KID = "unknown_kid"
API_KEY_NOT_ACCEPTED = "api_key_not_accepted"

# Codes of GatehouseUnavailable: this service could not ask Gatehouse (answer 503).
DISCOVERY_UNAVAILABLE = "discovery_unavailable"
JWKS_UNAVAILABLE = "jwks_unavailable"
INTROSPECTION_UNAVAILABLE = "introspection_unavailable"
INTROSPECTION_REFUSED = "introspection_refused"

# Codes the adapters use for requests that never reached the verifier, or lack a permission.
NOT_AUTHENTICATED = "not_authenticated"
PERMISSION_DENIED = "permission_denied"

MSG_TOKEN_NOT_VALID = "The token is not valid."
MSG_TOKEN_MALFORMED = "The credential is neither an access token nor an API key."
MSG_TOKEN_EXPIRED = "The token has expired."
MSG_TOKEN_INACTIVE = "The token is not active (unknown, expired or revoked)."
MSG_UNKNOWN_KID = "The token was signed with a key Gatehouse does not publish."
MSG_ALGORITHM_MISMATCH = "The token's algorithm is not the one its key is published for."
MSG_NOT_ACCESS_TOKEN = "Only access tokens are accepted here."
MSG_WRONG_AUDIENCE = "The token was not issued for this service."
MSG_API_KEY_NOT_ACCEPTED = "This service does not accept API keys (no introspection key is configured)."
MSG_DISCOVERY_UNAVAILABLE = "Gatehouse's discovery document could not be fetched."
MSG_JWKS_UNAVAILABLE = "Gatehouse's signing keys could not be fetched."
MSG_INTROSPECTION_UNAVAILABLE = "Gatehouse's introspection endpoint could not be reached."
MSG_INTROSPECTION_REFUSED = (
    "Gatehouse refused this service's introspection key (missing or lacking tokens:introspect)."
)
MSG_NOT_AUTHENTICATED = "Authentication credentials were not provided."
MSG_PERMISSION_DENIED = "You do not have permission to perform this action."


class GatehouseError(Exception):
    """Base class: every error of this package has a stable machine `code` and a `detail` sentence."""

    code: str = TOKEN_NOT_VALID
    detail: str = MSG_TOKEN_NOT_VALID

    def __init__(self, code: str | None = None, detail: str | None = None) -> None:
        if code is not None:
            self.code = code
        if detail is not None:
            self.detail = detail
        super().__init__(self.detail)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, detail={self.detail!r})"


class InvalidToken(GatehouseError):
    """The credential is not valid (expired, forged, revoked, wrong audience…): answer 401."""


class GatehouseUnavailable(GatehouseError):
    """Gatehouse could not be asked (network, 5xx, bad answer, refused introspection key): answer 503.

    Not the caller's fault, so never a 401: retrying later may succeed.
    """

    code = JWKS_UNAVAILABLE
    detail = MSG_JWKS_UNAVAILABLE
