from django.contrib.auth.backends import ModelBackend
from django.db.models.functions import Lower

from accounts.emails import email_lookup_key
from accounts.models import User
from accounts.validators import password_too_long


class UsernameOrEmailBackend(ModelBackend):
    """Password login by username or email, both case-insensitive.

    Unknown users cost one password hash too, so timing does not reveal who exists.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        # Over the length cap no password can match (none could be set): no hash for anyone,
        # so the API and the admin's login form share the same rule and cost.
        if not isinstance(username, str) or not isinstance(password, str) or password_too_long(password):
            return None
        identifier = username.strip().lower()
        field = "email" if "@" in identifier else "username"
        if field == "email":
            identifier = email_lookup_key(identifier)
        user = (
            User.objects.alias(lookup=Lower(field)).filter(lookup=identifier).first() if identifier else None
        )
        if user is None:
            User().set_password(password)
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None
