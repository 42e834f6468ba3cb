"""Shared by the service tests: a request's metadata and a session opened through the service."""

from accounts.models import Session, User
from accounts.services.sessions import session_start
from accounts.tokens import TokenPair
from core.request import RequestMeta

META = RequestMeta(ip_address="203.0.113.9", user_agent="pytest")


def start(user: User) -> tuple[Session, TokenPair]:
    """Open a session for `user` the way a login does (after the password check)."""
    return session_start(user=user, remember_me=False, meta=META)
