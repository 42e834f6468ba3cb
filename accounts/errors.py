"""Errors the accounts services raise; config.exception_handler renders them."""

from http import HTTPStatus

from core.errors import ServiceError

INVALID_CREDENTIALS = "The username or password is incorrect."
ACCOUNT_LOCKED = "Too many failed logins. Try again later."
TOKEN_NOT_VALID = "The token is not valid."
TOKEN_EXPIRED = "The token has expired."
TOKEN_REVOKED = "The token has been revoked."
TOKEN_REUSED = "This refresh token was already used; the session has been revoked."
WRONG_CURRENT_PASSWORD = "The current password is incorrect."
RESET_LINK_INVALID = "The password reset link is invalid or has expired."
NO_SESSION = "There is no session to log out of."
REFRESH_TOKEN_INVALID = "This refresh token is not valid."
SESSION_EXPIRED = "This session has reached its maximum lifetime; log in again."
EMAIL_NOT_VERIFIED = "Verify your email address first: open the link we mailed you."
VERIFY_LINK_INVALID = "The verification link is invalid or has expired."
MFA_CODE_INVALID = "The authentication code is not valid."
MFA_TOKEN_INVALID = "This MFA login has expired or is not valid: log in again."
MFA_REQUIRED = "This needs a session that logged in with a second factor: enrol in MFA and log in again."


class InvalidCredentials(ServiceError):
    status = HTTPStatus.UNAUTHORIZED
    code = "invalid_credentials"
    message = INVALID_CREDENTIALS


class AccountLocked(ServiceError):
    status = HTTPStatus.TOO_MANY_REQUESTS
    code = "account_locked"
    message = ACCOUNT_LOCKED


class TokenNotValid(ServiceError):
    status = HTTPStatus.UNAUTHORIZED
    code = "token_not_valid"
    message = TOKEN_NOT_VALID


class TokenExpired(TokenNotValid):
    code = "token_expired"
    message = TOKEN_EXPIRED


class TokenRevoked(TokenNotValid):
    code = "token_revoked"
    message = TOKEN_REVOKED


class TokenReused(TokenNotValid):
    code = "token_reused"
    message = TOKEN_REUSED


class SessionExpired(TokenNotValid):
    code = "session_expired"
    message = SESSION_EXPIRED


class PasswordInvalid(ServiceError):
    code = "password_invalid"


class CurrentPasswordWrong(ServiceError):
    """400, not 401: the access token is fine, the password in the body is not."""

    code = "invalid_credentials"
    message = WRONG_CURRENT_PASSWORD


class EmailNotVerified(ServiceError):
    status = HTTPStatus.FORBIDDEN
    code = "email_not_verified"
    message = EMAIL_NOT_VERIFIED


class MfaInvalid(ServiceError):
    """A wrong second factor at login (401), or an MFA login token that is dead."""

    status = HTTPStatus.UNAUTHORIZED
    code = "mfa_invalid"
    message = MFA_CODE_INVALID


class MfaCodeWrong(ServiceError):
    """400, not 401: an authenticated request whose body holds a wrong code."""

    code = "mfa_invalid"
    message = MFA_CODE_INVALID


class MfaRequired(ServiceError):
    status = HTTPStatus.FORBIDDEN
    code = "mfa_required"
    message = MFA_REQUIRED
