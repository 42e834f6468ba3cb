import json

from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_datetime

from audit.api.serializers import AuditEventSerializer
from audit.selectors import audit_filter


def _when(value: str | None, name: str):
    if value is None:
        return None
    parsed = parse_datetime(value)
    if parsed is None:
        raise CommandError(f"{name} must be an ISO 8601 time such as 2026-01-31T00:00:00Z, not {value!r}")
    return parsed


class Command(BaseCommand):
    help = "Export audit events as JSON Lines (one event a line, oldest first)."

    def add_arguments(self, parser):
        parser.add_argument("--since", help="ISO 8601 time, inclusive")
        parser.add_argument("--until", help="ISO 8601 time, exclusive")
        parser.add_argument("--output", help="file to write (default: standard output)")

    def handle(self, *args, **options):
        events = audit_filter(
            since=_when(options["since"], "--since"), until=_when(options["until"], "--until")
        ).order_by("id")
        try:
            out = open(options["output"], "w", encoding="utf-8") if options["output"] else None  # noqa: SIM115
        except OSError as exc:
            raise CommandError(f"cannot write {options['output']}: {exc.strerror}") from None
        stream = out or self.stdout
        count = 0
        try:
            # Keyset pages by id (the global order), not a server-side cursor: PgBouncer-safe.
            last_id = 0
            while page := list(events.filter(id__gt=last_id)[:2000]):
                for event in page:
                    stream.write(json.dumps(AuditEventSerializer(event).data, ensure_ascii=False) + "\n")
                count += len(page)
                last_id = page[-1].id
        finally:
            if out:
                out.close()
        if out:
            self.stdout.write(self.style.SUCCESS(f"wrote {count} events to {options['output']}"))
        else:
            self.stderr.write(f"exported {count} events")
