"""SESSION_ENGINE: Django's database sessions, each row tagged with its user's id.

Django's documented way to extend the database backend. The tag is written whenever the
session is saved with a logged-in user in it, so `cookie_sessions_end_for_user` finds a
user's admin logins through an index instead of decoding every row.
"""

from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore as DBStore

from accounts.models import CookieSession


class SessionStore(DBStore):
    @classmethod
    def get_model_class(cls):
        return CookieSession

    def create_model_instance(self, data):
        instance = super().create_model_instance(data)
        user_id = data.get(SESSION_KEY)
        try:
            instance.user_id = int(user_id) if user_id is not None else None
        except (TypeError, ValueError):
            instance.user_id = None
        return instance


def cookie_sessions_end_for_user(user_id: int) -> int:
    """Delete every cookie session of the user (they land on the login page next time)."""
    deleted, _ = CookieSession.objects.filter(user_id=user_id).delete()
    return deleted
