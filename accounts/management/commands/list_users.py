from django.core.management.base import BaseCommand

from accounts.models import Role
from accounts.selectors import user_list
from core.commands import table


class Command(BaseCommand):
    help = "List users as a table: role, active, locked, last login."

    def add_arguments(self, parser):
        parser.add_argument("--role", choices=Role.values)
        parser.add_argument("--locked", action="store_true", help="only users locked out now")

    def handle(self, *args, **options):
        users = user_list(role=options["role"], locked=True if options["locked"] else None)
        rows = [("ID", "USERNAME", "EMAIL", "ROLE", "ACTIVE", "LOCKED", "LAST LOGIN")]
        for user in users.iterator(chunk_size=2000):
            rows.append(
                (
                    user.pk,
                    user.username,
                    user.email,
                    user.role,
                    "yes" if user.is_active else "no",
                    "yes" if user.is_locked else "no",
                    f"{user.last_login:%Y-%m-%d %H:%M}" if user.last_login else "-",
                )
            )
        for line in table(rows):
            self.stdout.write(line)
        self.stdout.write(f"{len(rows) - 1} user(s)")
