from django.core.management.base import BaseCommand

from accounts.management.commands._helpers import user_named
from accounts.services.users import user_mfa_reset
from core.request import RequestMeta


class Command(BaseCommand):
    help = "Remove a user's second factor (a lost device): MFA off, recovery codes gone, sessions revoked."

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, **options):
        user = user_named(options["username"])
        revoked = user_mfa_reset(user_id=user.pk, meta=RequestMeta.operator("mfa_reset"))
        self.stdout.write(
            self.style.SUCCESS(
                f"MFA reset for {user.username}: {revoked} session(s) revoked. They log in with their "
                "password and enrol again (the admin at /admin/ shows a QR code)."
            )
        )
