from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed

from accounts import auth_state
from accounts.errors import TOKEN_NOT_VALID, TokenNotValid
from accounts.tokens import access_token_decode

API_KEY_PREFIX = "gk_"


def bearer_credential(request) -> str | None:
    """The credential after `Bearer `, None when the header is absent or another scheme."""
    header = get_authorization_header(request)
    if not header:
        return None
    parts = header.split()
    if not parts or parts[0].lower() != b"bearer":
        return None
    if len(parts) != 2:
        raise AuthenticationFailed(TOKEN_NOT_VALID, code=TokenNotValid.code)
    try:
        return parts[1].decode("ascii")
    except UnicodeDecodeError:
        raise AuthenticationFailed(TOKEN_NOT_VALID, code=TokenNotValid.code) from None


class SessionJWTAuthentication(BaseAuthentication):
    """`Authorization: Bearer <access JWT>`, checked against the session's revocation state.

    Returns None for an API key (`gk_...`) so the API-key class can take it.
    """

    def authenticate(self, request):
        raw = bearer_credential(request)
        if raw is None or raw.startswith(API_KEY_PREFIX):
            return None
        try:
            token = access_token_decode(raw)
            user = auth_state.principal_get(user_id=str(token["sub"]), session_id=str(token["sid"]))
        except TokenNotValid as exc:
            raise AuthenticationFailed(exc.message, code=exc.code) from None
        return user, token

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="gatehouse"'
