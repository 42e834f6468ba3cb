from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0007_mfa"),
    ]

    # Accounts that exist before verification was introduced count as verified (added with
    # default True), so switching EMAIL_VERIFICATION to mandatory locks none of them out; new
    # accounts then start unverified.
    operations = [
        migrations.AddField(
            model_name="user",
            name="email_verified",
            field=models.BooleanField(default=True),
        ),
        migrations.AlterField(
            model_name="user",
            name="email_verified",
            field=models.BooleanField(default=False),
        ),
    ]
