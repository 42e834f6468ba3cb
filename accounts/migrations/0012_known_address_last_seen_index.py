"""An index on known login addresses' `last_seen`, by which auth_cleanup removes the ones unused
for KNOWN_ADDRESS_RETENTION_DAYS in batches (without it, each batch would scan the table).

Built CONCURRENTLY on PostgreSQL: every successful login writes to this table.
"""

from django.db import migrations, models

from core.migration_ops import add_index_concurrently

INDEX = models.Index(fields=["last_seen"], name="accounts_known_seen_idx")


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [
        ("accounts", "0011_admin_search_indexes"),
    ]

    operations = [add_index_concurrently("accounts", "KnownLoginAddress", INDEX)]
