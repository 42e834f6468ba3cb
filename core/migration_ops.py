"""Migration helpers: indexes on big, busy tables built without blocking writes."""

from django.db import migrations, models


def concurrently(schema_editor) -> dict:
    """`add_index`/`remove_index` keyword arguments: CONCURRENTLY on PostgreSQL, plain elsewhere
    (SQLite, for development). The migration must say `atomic = False`."""
    return {"concurrently": True} if schema_editor.connection.vendor == "postgresql" else {}


def add_index_concurrently(
    app_label: str, model_name: str, index: models.Index
) -> migrations.SeparateDatabaseAndState:
    """An AddIndex whose database side is built CONCURRENTLY on PostgreSQL, so the build does not
    block the inserts of a table every login writes to."""

    def create(apps, schema_editor):
        schema_editor.add_index(apps.get_model(app_label, model_name), index, **concurrently(schema_editor))

    def drop(apps, schema_editor):
        schema_editor.remove_index(
            apps.get_model(app_label, model_name), index, **concurrently(schema_editor)
        )

    return migrations.SeparateDatabaseAndState(
        state_operations=[migrations.AddIndex(model_name=model_name.lower(), index=index)],
        database_operations=[migrations.RunPython(create, drop)],
    )
