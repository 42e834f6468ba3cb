from django.core.management.base import BaseCommand, CommandError

from accounts import services
from accounts.client import RequestMeta
from accounts.management.commands._helpers import service_error_line, user_named
from accounts.models import Role
from config.errors import ServiceError


class Command(BaseCommand):
    help = "Change a user's role (audited). It takes effect on the user's next request."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("role", choices=Role.values)

    def handle(self, *args, **options):
        user = user_named(options["username"])
        before = user.role
        try:
            user = services.user_set_role(
                user=user, role=options["role"], meta=RequestMeta.operator("set_role")
            )
        except ServiceError as exc:
            raise CommandError(service_error_line(exc)) from None
        if before == user.role and before == options["role"]:
            self.stdout.write(f"{user.username} already has role {user.role}.")
        else:
            self.stdout.write(self.style.SUCCESS(f"{user.username}: {before} -> {user.role}."))
