"""An index on (event, timestamp) for the admin's security overview.

Built CONCURRENTLY on PostgreSQL: the audit table is the biggest one and every login writes to
it, so the build must not block inserts (plain CREATE INDEX elsewhere, e.g. SQLite).
"""

from django.db import migrations, models

from core.migration_ops import add_index_concurrently

INDEX = models.Index(fields=["event", "timestamp"], name="audit_event_timestamp_idx")


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [
        ("audit", "0003_event_refs"),
    ]

    operations = [add_index_concurrently("audit", "AuditEvent", INDEX)]
