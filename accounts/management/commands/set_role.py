from django.core.management.base import BaseCommand, CommandError

from accounts.management.commands._helpers import user_named
from accounts.models import Role
from accounts.services.users import user_set_role
from core.commands import service_error_line
from core.errors import ServiceError
from core.request import RequestMeta


class Command(BaseCommand):
    help = "Change a user's role (audited). It takes effect on the user's next request."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("role", choices=Role.values)

    def handle(self, *args, **options):
        user = user_named(options["username"])
        before = user.role
        try:
            user = user_set_role(user_id=user.pk, role=options["role"], meta=RequestMeta.operator("set_role"))
        except ServiceError as exc:
            raise CommandError(service_error_line(exc)) from None
        if before == user.role and before == options["role"]:
            self.stdout.write(f"{user.username} already has role {user.role}.")
        else:
            self.stdout.write(self.style.SUCCESS(f"{user.username}: {before} -> {user.role}."))
