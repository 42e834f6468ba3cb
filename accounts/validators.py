from django.core.exceptions import ValidationError

PASSWORD_TOO_LONG = "This password is too long: use at most %(max_length)d characters."


class MaximumLengthValidator:
    """Caps password length so a huge input is a 400, not a slow hash."""

    def __init__(self, max_length: int = 256):
        self.max_length = max_length

    def validate(self, password: str, user=None) -> None:
        if len(password) > self.max_length:
            raise ValidationError(
                PASSWORD_TOO_LONG, code="password_too_long", params={"max_length": self.max_length}
            )

    def get_help_text(self) -> str:
        return f"Your password can be at most {self.max_length} characters."
