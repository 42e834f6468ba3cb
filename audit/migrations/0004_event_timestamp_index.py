"""An index on (event, timestamp) for the admin's security overview.

Built CONCURRENTLY on PostgreSQL: the audit table is the biggest one and every login writes to
it, so the build must not block inserts (plain CREATE INDEX elsewhere, e.g. SQLite).
"""

from django.db import migrations, models

INDEX = models.Index(fields=["event", "timestamp"], name="audit_event_timestamp_idx")


def _concurrently(schema_editor) -> dict:
    return {"concurrently": True} if schema_editor.connection.vendor == "postgresql" else {}


def create_index(apps, schema_editor):
    model = apps.get_model("audit", "AuditEvent")
    schema_editor.add_index(model, INDEX, **_concurrently(schema_editor))


def drop_index(apps, schema_editor):
    model = apps.get_model("audit", "AuditEvent")
    schema_editor.remove_index(model, INDEX, **_concurrently(schema_editor))


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [
        ("audit", "0003_event_refs"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.AddIndex(model_name="auditevent", index=INDEX)],
            database_operations=[migrations.RunPython(create_index, drop_index)],
        ),
    ]
