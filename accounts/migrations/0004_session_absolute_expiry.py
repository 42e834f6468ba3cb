from datetime import timedelta

from django.conf import settings
from django.db import migrations, models


def fill_absolute_expiry(apps, schema_editor):
    """Existing sessions end their absolute lifetime after their login, like new ones."""
    Session = apps.get_model("accounts", "Session")
    normal = timedelta(seconds=settings.SESSION_ABSOLUTE_LIFETIME_SECONDS)
    remembered = timedelta(seconds=settings.SESSION_ABSOLUTE_REMEMBER_ME_SECONDS)
    for remember_me, lifetime in ((False, normal), (True, remembered)):
        Session.objects.filter(remember_me=remember_me, absolute_expires_at__isnull=True).update(
            absolute_expires_at=models.F("created_at") + lifetime
        )


class Migration(migrations.Migration):
    dependencies = [("accounts", "0003_signingkey")]

    operations = [
        migrations.AddField(
            model_name="session",
            name="absolute_expires_at",
            field=models.DateTimeField(null=True),
        ),
        migrations.RunPython(fill_absolute_expiry, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="session",
            name="absolute_expires_at",
            field=models.DateTimeField(),
        ),
        migrations.AlterField(
            model_name="session",
            name="revoked_reason",
            field=models.CharField(
                blank=True,
                choices=[
                    ("logout", "Logged out"),
                    ("logout_all", "Logged out everywhere"),
                    ("user", "Revoked by the user"),
                    ("password_change", "Password changed"),
                    ("password_reset", "Password reset"),
                    ("token_reuse", "Refresh token reused"),
                    ("admin", "Revoked by staff"),
                    ("deactivated", "Account deactivated"),
                    ("deleted", "Account deleted"),
                    ("blacklisted", "Refresh token blacklisted by staff"),
                    ("password_guessing", "Too many wrong current passwords"),
                ],
                max_length=32,
            ),
        ),
    ]
