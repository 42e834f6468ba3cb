from django.core.management.base import BaseCommand

from accounts.services.housekeeping import auth_cleanup
from core.request import RequestMeta


class Command(BaseCommand):
    help = (
        "Remove expired refresh-token records (and their blacklist rows), ended sessions, expired "
        "API keys, old failed-login records and known login addresses unused for "
        "KNOWN_ADDRESS_RETENTION_DAYS, in small batches so no statement holds a lock for long. "
        "--dry-run only counts."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true")
        parser.add_argument("--batch-size", type=int, default=5000)

    def handle(self, *args, **options):
        batch = max(100, min(options["batch_size"], 50000))
        last_report: dict[str, int] = {}

        def progress(kind: str, deleted: int) -> None:
            # A line every 50 batches: visible progress on million-row tables, quiet on small ones.
            if deleted - last_report.get(kind, 0) >= batch * 50:
                last_report[kind] = deleted
                self.stdout.write(f"  {kind}: {deleted} removed so far")

        counts = auth_cleanup(
            dry_run=options["dry_run"],
            batch_size=batch,
            progress=progress,
            meta=RequestMeta.operator("auth_cleanup"),
        )
        verb = "would remove" if options["dry_run"] else "removed"
        for kind, count in counts.items():
            self.stdout.write(f"{kind}: {verb} {count}")
