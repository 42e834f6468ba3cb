from django.core.management.base import BaseCommand
from django.utils import timezone

from apikeys.selectors import apikey_list
from core.commands import table


class Command(BaseCommand):
    help = "List API keys (never their secrets), optionally of one user."

    def add_arguments(self, parser):
        parser.add_argument("username", nargs="?")

    def handle(self, *args, **options):
        now = timezone.now()
        rows = [("PREFIX", "OWNER", "NAME", "SCOPES", "EXPIRES", "LAST USED", "STATE")]
        for key in apikey_list(username=options["username"]):
            state = "revoked" if key.revoked_at else ("expired" if not key.is_usable(now) else "active")
            rows.append(
                (
                    key.prefix,
                    key.owner.username,
                    key.name,
                    ",".join(key.scopes),
                    f"{key.expires_at:%Y-%m-%d}" if key.expires_at else "never",
                    f"{key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "-",
                    state,
                )
            )
        for line in table(rows):
            self.stdout.write(line)
        self.stdout.write(f"{len(rows) - 1} key(s)")
