"""Who is calling: the client IP behind trusted proxies, the user agent, the actor of a write."""

import getpass
import ipaddress
from dataclasses import dataclass
from functools import lru_cache

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


def canonical_ip(value: str | None) -> str | None:
    """One spelling per address, the one PostgreSQL's inet prints: an IPv4-mapped IPv6
    address is its IPv4 address, a zone id (`%eth0`) is dropped, IPv6 is compressed."""
    if not value:
        return None
    return _canonical_ip(value)


@lru_cache(maxsize=4096)  # every request parses its address more than once; a pure function
def _canonical_ip(value: str) -> str | None:
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        if address.scope_id is not None:
            address = ipaddress.IPv6Address(int(address))
    return str(address)


def ip_bucket(ip: str | None) -> str | None:
    """The key an address is counted under for lockout and per-IP limits: an IPv4 address
    itself, an IPv6 address's /IPV6_PREFIX_LENGTH network (its first address), since one
    subscriber usually holds a whole /64 and could otherwise rotate through it."""
    canonical = canonical_ip(ip)
    if canonical is None or ":" not in canonical:
        return canonical
    return _ipv6_network(canonical, settings.IPV6_PREFIX_LENGTH)


@lru_cache(maxsize=4096)
def _ipv6_network(canonical: str, prefix_length: int) -> str:
    return str(ipaddress.IPv6Network(f"{canonical}/{prefix_length}", strict=False).network_address)


def _forwarded_hop(value: str) -> str | None:
    """One X-Forwarded-For entry as an address: proxies write `ip`, `ip:port`, `[v6]` or
    `[v6]:port`; a bare IPv6 address has several colons and no port."""
    hop = value.strip()
    if hop.startswith("["):
        end = hop.find("]")
        if end == -1 or not (hop[end + 1 :] == "" or _is_port(hop[end + 1 :])):
            return None
        return canonical_ip(hop[1:end])
    if hop.count(":") == 1:
        host, port = hop.split(":")
        return canonical_ip(host) if port.isdigit() else None
    return canonical_ip(hop)


def _is_port(suffix: str) -> bool:
    return suffix.startswith(":") and suffix[1:].isdigit()


def client_ip(request: HttpRequest) -> str | None:
    """The client's full address (canonical, see canonical_ip), for the audit trail and sessions:
    REMOTE_ADDR, or the X-Forwarded-For hop appended by the outermost trusted proxy.

    Each trusted proxy appends the address it saw, so with N trusted proxies the client is
    the N-th entry from the right; anything left of it was written by the client itself.
    """
    cached = getattr(request, "_gatehouse_client_ip", None)
    if cached is not None:
        return cached or None
    remote = canonical_ip(request.META.get("REMOTE_ADDR"))
    ip = remote
    hops = settings.TRUSTED_PROXY_COUNT
    if hops > 0:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        if len(forwarded) >= hops and forwarded[-hops].strip():
            ip = _forwarded_hop(forwarded[-hops]) or remote
    request._gatehouse_client_ip = ip or ""  # type: ignore[attr-defined]  # a memo for this request
    return ip


def client_ip_bucket(request: HttpRequest) -> str | None:
    """What lockout (AXES_CLIENT_IP_CALLABLE) and every per-IP rate limit count the client
    under: see ip_bucket."""
    return ip_bucket(client_ip(request))


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
