from django.core.management.base import BaseCommand, CommandError

from accounts.management.commands._helpers import password_from_operator, user_named
from accounts.services.passwords import password_set
from core.commands import service_error_line
from core.errors import ServiceError
from core.request import RequestMeta


class Command(BaseCommand):
    help = (
        "Set a user's password (replaces Django's changepassword so the change is validated, "
        "audited and ends every session of the user)."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--password-stdin", action="store_true")

    def handle(self, *args, **options):
        user = user_named(options["username"])
        password = password_from_operator(from_stdin=options["password_stdin"])
        if password is None:
            raise CommandError("no terminal to ask on: use --password-stdin")
        try:
            password_set(user=user, new_password=password, meta=RequestMeta.operator("changepassword"))
        except ServiceError as exc:
            raise CommandError(service_error_line(exc)) from None
        self.stdout.write(
            self.style.SUCCESS(f"Password of {user.username} changed; their sessions were revoked.")
        )
