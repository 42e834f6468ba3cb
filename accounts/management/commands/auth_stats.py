from django.core.management.base import BaseCommand

from accounts.selectors import auth_stats


class Command(BaseCommand):
    help = "Print the numbers of /api/v1/admin/stats."

    def handle(self, *args, **options):
        stats = auth_stats()
        self.stdout.write(f"users: {stats['users']['total']}")
        for role, count in stats["users"]["by_role"].items():
            self.stdout.write(f"  {role}: {count}")
        for key, value in stats.items():
            if key != "users":
                self.stdout.write(f"{key}: {value}")
