from http import HTTPStatus

from core.errors import ServiceError

KEY_NOT_VALID = "The API key is not valid."
KEY_EXPIRED = "The API key has expired."
KEY_REVOKED = "The API key has been revoked."
UNKNOWN_SCOPE = "Unknown scope: %(scope)s."
SCOPE_NOT_ALLOWED = "Your role does not allow the scope %(scope)s."
BAD_RATE_LIMIT = "Use a number of requests per s, m, h or d, e.g. 100/h."
SCOPE_BEYOND_KEY = "A key cannot create a key with a scope it does not have: %(scope)s."
RATE_BEYOND_ROLE = "A key's rate limit cannot exceed its owner's role limit (%(rate)s)."
TOO_MANY_KEYS = "You have too many active API keys; revoke one first."


class KeyNotValid(ServiceError):
    status = HTTPStatus.UNAUTHORIZED
    code = "token_not_valid"
    message = KEY_NOT_VALID


class KeyExpired(KeyNotValid):
    code = "token_expired"
    message = KEY_EXPIRED


class KeyRevoked(KeyNotValid):
    code = "token_revoked"
    message = KEY_REVOKED
