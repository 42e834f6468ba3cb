from django.core.management.base import BaseCommand, CommandError

from accounts.user_import import ImportLineError, users_import, users_import_parse
from core.request import RequestMeta


class Command(BaseCommand):
    help = (
        "Import users from a JSON Lines file (username, email, full_name?, role?, password_hash?). "
        "Every line is checked first; any bad line and nothing is written. Users without a "
        "password_hash get an unusable password (they set one through password reset); bcrypt "
        "and Django hashes keep working and are upgraded to Argon2 at the first login."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="JSON Lines, one user a line (UTF-8)")
        parser.add_argument("--dry-run", action="store_true", help="check every line, write nothing")

    def handle(self, *args, **options):
        path = options["file"]
        try:
            with open(path, encoding="utf-8") as handle:
                # "\n" only: str.splitlines() would also cut at U+2028 inside a JSON string.
                lines = [line.rstrip("\r") for line in handle.read().split("\n")]
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"cannot read {path}: {exc}") from None
        try:
            users = users_import_parse(lines)
            if not users:
                raise CommandError(f"{path} has no users")
            if options["dry_run"]:
                with_password = sum(1 for user in users if user.password_hash is not None)
                self.stdout.write(
                    f"Dry run: {len(users)} users would be created "
                    f"({with_password} with a password, {len(users) - with_password} without)."
                )
                return
            counts = users_import(users=users, meta=RequestMeta.operator("import_users"))
        except ImportLineError as exc:
            raise CommandError(f"{path}, {exc}; nothing was imported") from None
        self.stdout.write(
            self.style.SUCCESS(
                f"Created {counts['created']} users: {counts['with_password']} with a password, "
                f"{counts['without_password']} without (they set one through password reset)."
            )
        )
