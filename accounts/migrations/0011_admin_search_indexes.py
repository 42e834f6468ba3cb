"""Indexes for the Django admin on millions of rows.

- Users: newest first with the key, (date_joined DESC, id DESC), the admin's full order, in
  place of (date_joined DESC): deep pages of the user list become an index-only scan.
- Sessions: the same for the Sessions page, (created_at DESC, id DESC), by IP address (its
  exact-IP search) and, for revoked sessions only, by revoked reason (its filter; a partial
  index, so the refreshes of live sessions never write to it).
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

from core.migration_ops import concurrently

logger = logging.getLogger("gatehouse.accounts")

USER_JOINED_OLD = models.Index(fields=["-date_joined"], name="accounts_user_joined_idx")
USER_JOINED = models.Index(fields=["-date_joined", "-id"], name="accounts_user_joined_id_idx")
SESSION_INDEXES = [
    models.Index(fields=["-created_at", "-id"], name="accounts_session_created_idx"),
    models.Index(fields=["ip_address"], name="accounts_session_ip_idx"),
    models.Index(
        fields=["revoked_reason", "-created_at", "-id"],
        condition=~models.Q(revoked_reason=""),
        name="accounts_session_reason_idx",
    ),
]
TRIGRAM_COLUMNS = {
    "accounts_user_username_trgm": "username",
    "accounts_user_email_trgm": "email",
    "accounts_user_full_name_trgm": "full_name",
}


def create_indexes(apps, schema_editor):
    user = apps.get_model("accounts", "User")
    schema_editor.add_index(user, USER_JOINED, **concurrently(schema_editor))
    schema_editor.remove_index(user, USER_JOINED_OLD, **concurrently(schema_editor))
    session = apps.get_model("accounts", "Session")
    for index in SESSION_INDEXES:
        schema_editor.add_index(session, index, **concurrently(schema_editor))
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
        schema_editor.remove_index(session, index, **concurrently(schema_editor))
    user = apps.get_model("accounts", "User")
    schema_editor.add_index(user, USER_JOINED_OLD, **concurrently(schema_editor))
    schema_editor.remove_index(user, USER_JOINED, **concurrently(schema_editor))


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [
        ("accounts", "0010_known_login_address"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveIndex(model_name="user", name=USER_JOINED_OLD.name),
                migrations.AddIndex(model_name="user", index=USER_JOINED),
                *(migrations.AddIndex(model_name="session", index=index) for index in SESSION_INDEXES),
            ],
            database_operations=[migrations.RunPython(create_indexes, drop_indexes)],
        ),
    ]
