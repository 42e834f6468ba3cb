from django.core.management.base import BaseCommand

from accounts.management.commands._helpers import user_named
from accounts.models import RevokeReason
from accounts.services.sessions import session_revoke_all
from core.request import RequestMeta


class Command(BaseCommand):
    help = "Revoke every session of a user: their access and refresh tokens stop working at once."

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, **options):
        user = user_named(options["username"])
        count = session_revoke_all(
            user=user, reason=RevokeReason.ADMIN, meta=RequestMeta.operator("revoke_sessions")
        )
        self.stdout.write(self.style.SUCCESS(f"Revoked {count} session(s) of {user.username}."))
