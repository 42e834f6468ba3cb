"""An index on (actor_kind, -id) for the admin's "actor kind" filter, newest first.

Built CONCURRENTLY on PostgreSQL: the audit table is the biggest one and every login writes to
it, so the build must not block inserts (plain CREATE INDEX elsewhere, e.g. SQLite).
"""

from django.db import migrations, models

from core.migration_ops import add_index_concurrently

INDEX = models.Index(fields=["actor_kind", "-id"], name="audit_actor_kind_id_idx")


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [
        ("audit", "0007_event_choices"),
    ]

    operations = [add_index_concurrently("audit", "AuditEvent", INDEX)]
