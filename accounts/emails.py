"""One spelling per mailbox: email addresses are compared (and stored) with the domain
normalised, so `victim@ｅxample.com` is `victim@example.com`."""

import unicodedata


def email_normalize(address: str) -> str:
    """Strip, then NFKC and IDNA (A-label, lower-case) the domain; the local part is kept as typed.

    Anything that cannot be normalised is returned stripped, for validation to refuse.
    """
    address = address.strip()
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain:
        return address
    folded = unicodedata.normalize("NFKC", domain).lower().rstrip(".")
    try:
        ascii_domain = folded.encode("idna").decode("ascii")
    except UnicodeError:
        return f"{local}@{folded}"
    return f"{local}@{ascii_domain.lower()}"


def email_lookup_key(address: str) -> str:
    """The case-insensitive key that lookups and the unique constraint compare."""
    return email_normalize(address).lower()
