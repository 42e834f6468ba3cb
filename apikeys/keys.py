"""The key format and its keyed hash. Secrets come from `secrets`; comparison is constant-time."""

import hashlib
import hmac
import secrets
from functools import lru_cache

from django.conf import settings
from django.utils.crypto import salted_hmac

KEY_PREFIX = "gk_"
SECRET_BYTES = 32


def key_generate() -> tuple[str, str, str]:
    """A new key: (full key shown once, public prefix, secret)."""
    prefix = secrets.token_hex(6)  # hex: never contains the "_" separator
    secret = secrets.token_urlsafe(SECRET_BYTES)
    return f"{KEY_PREFIX}{prefix}_{secret}", prefix, secret


def key_parse(raw: str) -> tuple[str, str] | None:
    """(prefix, secret) of a well-formed key, else None."""
    if not raw.startswith(KEY_PREFIX) or len(raw) > 200:
        return None
    prefix, sep, secret = raw[len(KEY_PREFIX) :].partition("_")
    if not sep or len(prefix) != 12 or not secret:
        return None
    try:
        int(prefix, 16)
    except ValueError:
        return None
    return prefix, secret


def _pepper() -> bytes:
    """API_KEY_PEPPER if set, else a key derived from the Django secret for this purpose."""
    return _pepper_for(getattr(settings, "API_KEY_PEPPER", ""), settings.SECRET_KEY)


@lru_cache(maxsize=4)
def _pepper_for(configured: str, secret_key: str) -> bytes:
    if configured:
        return configured.encode()
    return salted_hmac("gatehouse.apikeys.pepper", "pepper", secret=secret_key, algorithm="sha256").digest()


def secret_hash(secret: str) -> str:
    """HMAC-SHA256 with the server's pepper: fast to check, useless to a database thief."""
    return hmac.new(_pepper(), secret.encode(), hashlib.sha256).hexdigest()
