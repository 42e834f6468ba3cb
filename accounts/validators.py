"""The password length cap: one constant and one check, used by the serializers, the login
backend, the services, the HTML forms and Django's validator list."""

from django.core.exceptions import ValidationError

# The longest password anyone can set or present: a huge input is a 400, never a slow hash.
PASSWORD_MAX_LENGTH = 256
PASSWORD_TOO_LONG = "This password is too long: use at most %(max_length)d characters."


def password_too_long(password: str) -> bool:
    return len(password) > PASSWORD_MAX_LENGTH


def password_too_long_message() -> str:
    return PASSWORD_TOO_LONG % {"max_length": PASSWORD_MAX_LENGTH}


class MaximumLengthValidator:
    """The cap as a Django password validator (AUTH_PASSWORD_VALIDATORS), for Django's forms."""

    def validate(self, password: str, user: object = None) -> None:
        if password_too_long(password):
            raise ValidationError(
                PASSWORD_TOO_LONG, code="password_too_long", params={"max_length": PASSWORD_MAX_LENGTH}
            )

    def get_help_text(self) -> str:
        return f"Your password can be at most {PASSWORD_MAX_LENGTH} characters."
