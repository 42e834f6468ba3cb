from django.core.management.base import BaseCommand, CommandError

from accounts.management.commands._helpers import user_named
from accounts.services.lockouts import lockout_clear
from core.request import RequestMeta


class Command(BaseCommand):
    help = "Clear failed-login lockouts of one user (USERNAME) or of everyone (--all)."

    def add_arguments(self, parser):
        parser.add_argument("username", nargs="?")
        parser.add_argument("--all", action="store_true", help="clear every lockout")

    def handle(self, *args, **options):
        meta = RequestMeta.operator("unlock_user")
        if options["all"] == bool(options["username"]):
            raise CommandError("give a USERNAME or --all (not both)")
        if options["all"]:
            cleared = lockout_clear(everyone=True, meta=meta)
            self.stdout.write(self.style.SUCCESS(f"Cleared all lockouts ({cleared} records)."))
            return
        user = user_named(options["username"])
        cleared = lockout_clear(user=user, meta=meta)
        self.stdout.write(self.style.SUCCESS(f"Unlocked {user.username} ({cleared} records cleared)."))
