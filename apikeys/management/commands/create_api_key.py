from django.core.management.base import BaseCommand, CommandError

from accounts.management.commands._helpers import user_named
from apikeys import services
from core.commands import service_error_line
from core.errors import ServiceError
from core.request import RequestMeta


class Command(BaseCommand):
    help = "Create an API key for a user and print it once (it is never shown again)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", required=True)
        parser.add_argument(
            "--scope", action="append", required=True, dest="scopes", help="repeat for several"
        )
        parser.add_argument("--expires-in-days", type=int)
        parser.add_argument("--rate-limit", default="", help="e.g. 1000/h; default: the owner's role limit")

    def handle(self, *args, **options):
        owner = user_named(options["username"])
        try:
            key, full_key = services.apikey_create(
                owner=owner,
                name=options["name"],
                scopes=options["scopes"],
                expires_in_days=options["expires_in_days"],
                rate_limit=options["rate_limit"],
                meta=RequestMeta.operator("create_api_key"),
            )
        except ServiceError as exc:
            raise CommandError(service_error_line(exc)) from None
        self.stdout.write(
            self.style.SUCCESS(
                f"Created key {key.prefix} for {owner.username}, expires {key.expires_at:%Y-%m-%d}."
            )
        )
        self.stdout.write(f"Key (shown once, store it now): {full_key}")
