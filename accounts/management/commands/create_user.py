import secrets

from django.core.management.base import BaseCommand, CommandError

from accounts.management.commands._helpers import password_from_operator
from accounts.models import Role
from accounts.roles import has_staff_access, mfa_required_for
from accounts.services.users import user_create
from core.commands import service_error_line
from core.errors import ServiceError
from core.request import RequestMeta


class Command(BaseCommand):
    help = (
        "Create a user. Without --password-stdin it asks for the password on a terminal; "
        "with no terminal it generates a strong password and prints it once."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--email", required=True)
        parser.add_argument("--role", default=Role.USER, choices=Role.values)
        parser.add_argument("--full-name", default="")
        parser.add_argument(
            "--password-stdin", action="store_true", help="read the password from standard input"
        )

    operator_command = "create_user"

    def handle(self, *args, **options):
        password = password_from_operator(from_stdin=options["password_stdin"])
        generated = password is None
        if generated:
            password = secrets.token_urlsafe(24)
        try:
            user = user_create(
                username=options["username"],
                email=options["email"],
                password=password,
                full_name=options["full_name"],
                role=options["role"],
                meta=RequestMeta.operator(self.operator_command),
            )
        except ServiceError as exc:
            raise CommandError(service_error_line(exc)) from None
        self.stdout.write(self.style.SUCCESS(f"Created {user.role} {user.username} (id {user.pk})."))
        if generated:
            self.stdout.write(f"Password (shown once, store it now): {password}")
        if has_staff_access(role=user.role, is_active=user.is_active) and mfa_required_for(user.role):
            self.stdout.write(
                "Next: log in at /admin/ with this username and password (leave the code empty the "
                "first time), scan the QR code on the enrolment page with an authenticator app and "
                "enter its code. From then on every login asks for a code."
            )
