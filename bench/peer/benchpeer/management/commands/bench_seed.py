import json
import sys

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from rest_framework_api_key.models import APIKey


class Command(BaseCommand):
    help = "Create (or reset) the benchmark user with the password on stdin and print a new API key as JSON."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--email", required=True)

    def handle(self, *args, **options):
        password = sys.stdin.readline().rstrip("\n")
        User = get_user_model()
        user, _ = User.objects.get_or_create(
            username=options["username"], defaults={"email": options["email"]}
        )
        user.set_password(password)
        user.save()
        _, key = APIKey.objects.create_key(name="bench")
        self.stdout.write(json.dumps({"user_id": user.pk, "api_key": key}))
