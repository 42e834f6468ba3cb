"""An index on (actor_kind, -id) for the admin's "actor kind" filter, newest first.

Built CONCURRENTLY on PostgreSQL: the audit table is the biggest one and every login writes to
it, so the build must not block inserts (plain CREATE INDEX elsewhere, e.g. SQLite).
"""

from django.db import migrations, models

INDEX = models.Index(fields=["actor_kind", "-id"], name="audit_actor_kind_id_idx")


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
        ("audit", "0007_event_choices"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.AddIndex(model_name="auditevent", index=INDEX)],
            database_operations=[migrations.RunPython(create_index, drop_index)],
        ),
    ]
