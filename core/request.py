"""Who is calling: the client IP behind trusted proxies, the user agent, the actor of a write."""

import getpass
import ipaddress
from dataclasses import dataclass

from django.conf import settings
from django.db import models
from django.http import HttpRequest

USER_AGENT_MAX_LENGTH = 512


class ActorKind(models.TextChoices):
    """Who did something, as the audit trail records it."""

    USER = "user", "User (access token or admin)"
    API_KEY = "api_key", "API key"
    OPERATOR = "operator", "Operator command"
    SYSTEM = "system", "System"
    ANONYMOUS = "anonymous", "Anonymous client"


def _valid_ip(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def client_ip(request: HttpRequest) -> str | None:
    """REMOTE_ADDR, or the X-Forwarded-For hop appended by the outermost trusted proxy.

    Each trusted proxy appends the address it saw, so with N trusted proxies the client is
    the N-th entry from the right; anything left of it was written by the client itself.
    """
    cached = getattr(request, "_gatehouse_client_ip", None)
    if cached is not None:
        return cached or None
    remote = _valid_ip(request.META.get("REMOTE_ADDR", "") or "")
    ip = remote
    hops = settings.TRUSTED_PROXY_COUNT
    if hops > 0:
        forwarded = [part for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        if len(forwarded) >= hops and forwarded[-hops].strip():
            ip = _valid_ip(forwarded[-hops]) or remote
    request._gatehouse_client_ip = ip or ""  # type: ignore[attr-defined]  # a memo for this request
    return ip


_CONTROL_CHARS = dict.fromkeys([*range(32), 127], " ")


def client_user_agent(request: HttpRequest) -> str:
    """The User-Agent, cut to size and without control characters (NUL cannot be stored)."""
    return (request.META.get("HTTP_USER_AGENT") or "")[:USER_AGENT_MAX_LENGTH].translate(_CONTROL_CHARS)


@dataclass(frozen=True)
class RequestMeta:
    """Who did a write and from where, for sessions and the audit trail."""

    ip_address: str | None = None
    user_agent: str = ""
    request_id: str = ""
    actor_kind: ActorKind = ActorKind.SYSTEM
    actor_id: int | None = None
    actor_label: str = ""

    @classmethod
    def from_request(cls, request: HttpRequest) -> "RequestMeta":
        user = getattr(request, "user", None)
        kind, actor_id, label = ActorKind.ANONYMOUS, None, ""
        if user is not None and user.is_authenticated:
            actor_id, label = user.id, user.username
            key_prefix = getattr(getattr(request, "auth", None), "prefix", None)
            kind = ActorKind.API_KEY if key_prefix else ActorKind.USER
            if key_prefix:
                label = f"{label} (key {key_prefix})"
        return cls(
            ip_address=client_ip(request),
            user_agent=client_user_agent(request),
            request_id=getattr(request, "request_id", "") or "",
            actor_kind=kind,
            actor_id=actor_id,
            actor_label=label,
        )

    @classmethod
    def operator(cls, command: str) -> "RequestMeta":
        """A change made with a manage.py command on the server."""
        try:
            who = getpass.getuser()
        except (KeyError, OSError):
            who = "unknown"
        return cls(actor_kind=ActorKind.OPERATOR, actor_label=f"{who} via manage.py {command}")


SYSTEM = RequestMeta()
