"""Indexes for the Django admin on millions of rows.

- Sessions: newest first (the Sessions page's order) and by IP address (its exact-IP search).
- Users, PostgreSQL only: trigram GIN indexes (pg_trgm) on UPPER(username), UPPER(email) and
  UPPER(full_name), the expressions Django's case-insensitive "contains" search compares, so the
  admin's user search (and the admin API's `search`) is an index lookup, not a scan of every
  user. pg_trgm is a trusted extension (PostgreSQL 13+): the database owner may create it. When
  it cannot be created the migration says so and goes on without these three indexes (search
  stays correct, only slower); create the extension as a superuser and run
  `manage.py migrate accounts 0010` then `manage.py migrate` to add them later.

Everything is built CONCURRENTLY on PostgreSQL (logins keep writing sessions meanwhile); plain
CREATE INDEX elsewhere (SQLite, for development), where the trigram indexes do not exist.
"""

import logging

from django.db import DatabaseError, migrations, models

logger = logging.getLogger("gatehouse.accounts")

SESSION_INDEXES = [
    models.Index(fields=["-created_at"], name="accounts_session_created_idx"),
    models.Index(fields=["ip_address"], name="accounts_session_ip_idx"),
]
TRIGRAM_COLUMNS = {
    "accounts_user_username_trgm": "username",
    "accounts_user_email_trgm": "email",
    "accounts_user_full_name_trgm": "full_name",
}


def _concurrently(schema_editor) -> dict:
    return {"concurrently": True} if schema_editor.connection.vendor == "postgresql" else {}


def create_indexes(apps, schema_editor):
    session = apps.get_model("accounts", "Session")
    for index in SESSION_INDEXES:
        schema_editor.add_index(session, index, **_concurrently(schema_editor))
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        try:
            cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        except DatabaseError as exc:
            logger.warning("pg_trgm is not available (%s): the admin's user search will scan", exc)
            return
        for name, column in TRIGRAM_COLUMNS.items():
            cursor.execute(
                f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON accounts_user "
                f"USING gin (UPPER({column}::text) gin_trgm_ops)"
            )


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            for name in TRIGRAM_COLUMNS:
                cursor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
    session = apps.get_model("accounts", "Session")
    for index in SESSION_INDEXES:
        schema_editor.remove_index(session, index, **_concurrently(schema_editor))


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [
        ("accounts", "0010_known_login_address"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddIndex(model_name="session", index=index) for index in SESSION_INDEXES
            ],
            database_operations=[migrations.RunPython(create_indexes, drop_indexes)],
        ),
    ]
