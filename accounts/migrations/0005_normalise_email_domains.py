"""Normalise the domain of every stored email address (NFKC, IDNA, lower-case).

Two accounts whose addresses become the same: the older account (earliest date_joined, then
lowest id) keeps the address; each other one is renamed, deterministically, to
`<local>+duplicate-<id>@<domain>.invalid` (an undeliverable address, RFC 2606) and logged as
a warning, so an operator can sort it out. The migration never fails on a collision.
"""

import logging

from django.db import migrations

from accounts.emails import email_normalize

logger = logging.getLogger("gatehouse.migrations")


def _duplicate_address(normalised: str, pk: int) -> str:
    local, _, domain = normalised.rpartition("@")
    suffix = f"+duplicate-{pk}"
    domain = f"{domain}.invalid"
    return f"{local[: 254 - len(suffix) - len(domain) - 1]}{suffix}@{domain}"


def normalise_emails(apps, schema_editor=None) -> list[tuple[int, str, str]]:
    """Returns (id, old address, new address) of every renamed duplicate."""
    User = apps.get_model("accounts", "User")
    groups: dict[str, list[tuple]] = {}
    for pk, email, joined in User.objects.order_by("date_joined", "pk").values_list("pk", "email", "date_joined"):
        normalised = email_normalize(email)
        groups.setdefault(normalised.lower(), []).append((pk, email, normalised))
    renamed: list[tuple[int, str, str]] = []
    keepers: list[tuple[int, str, str]] = []
    for rows in groups.values():
        keepers.append(rows[0])
        for pk, email, normalised in rows[1:]:
            renamed.append((pk, email, _duplicate_address(normalised, pk)))
    # Duplicates first, so no keeper's new address collides with a row not yet renamed.
    for pk, old, new in renamed:
        User.objects.filter(pk=pk).update(email=new)
        logger.warning("email of user %s was a duplicate after normalisation: %r -> %r", pk, old, new)
    for pk, old, new in keepers:
        if old != new:
            User.objects.filter(pk=pk).update(email=new)
    return renamed


class Migration(migrations.Migration):
    dependencies = [("accounts", "0004_session_absolute_expiry")]

    operations = [migrations.RunPython(normalise_emails, migrations.RunPython.noop)]
