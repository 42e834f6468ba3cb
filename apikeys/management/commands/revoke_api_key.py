from django.core.management.base import BaseCommand, CommandError

from apikeys import services
from apikeys.models import APIKey
from core.request import RequestMeta


class Command(BaseCommand):
    help = "Revoke an API key by its prefix (the part after gk_). It stops working at once."

    def add_arguments(self, parser):
        parser.add_argument("prefix")

    def handle(self, *args, **options):
        prefix = options["prefix"].removeprefix("gk_").split("_")[0]
        key = APIKey.objects.filter(prefix=prefix).first()
        if key is None:
            raise CommandError(f"no API key with prefix {prefix!r}")
        was_revoked = key.revoked_at is not None
        services.apikey_revoke(key=key, meta=RequestMeta.operator("revoke_api_key"), reason="operator")
        if was_revoked:
            self.stdout.write(f"Key {prefix} was already revoked.")
        else:
            self.stdout.write(self.style.SUCCESS(f"Revoked key {prefix} of {key.owner.username}."))
