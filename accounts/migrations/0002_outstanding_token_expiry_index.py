"""An index on simplejwt's outstanding-token expiry, so auth_cleanup finds expired rows
without scanning millions of live ones (simplejwt's table has none)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("token_blacklist", "0013_alter_blacklistedtoken_options_and_more"),
    ]

    operations = [
        migrations.RunSQL(
            "CREATE INDEX IF NOT EXISTS gatehouse_outstanding_expires_idx "
            "ON token_blacklist_outstandingtoken (expires_at)",
            reverse_sql="DROP INDEX IF EXISTS gatehouse_outstanding_expires_idx",
        ),
    ]
