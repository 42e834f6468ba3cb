from accounts.management.commands import create_user
from accounts.roles import Role


class Command(create_user.Command):
    help = (
        "Create an admin: create_user with --role admin, validated and audited (replaces "
        "Django's createsuperuser, which would save the row directly)."
    )
    operator_command = "createsuperuser"

    def handle(self, *args, **options):
        options["role"] = Role.ADMIN
        super().handle(*args, **options)
