from django.core.management.base import BaseCommand, CommandError

from audit.selectors import audit_chain_verify


class Command(BaseCommand):
    help = (
        "Check the tamper-evidence of the whole audit log: every event's hash and its link to the "
        "one before. Exits 1 naming the first bad event. Keep the printed head hash somewhere "
        "else (a ticket, a log shipper) to detect a rewrite of the whole chain later."
    )

    def handle(self, *args, **options):
        report = audit_chain_verify()
        if report.problem:
            raise CommandError(
                f"audit log is broken at event #{report.problem.seq}: {report.problem.reason} "
                f"({report.checked} events verified before it)"
            )
        self.stdout.write(
            self.style.SUCCESS(f"audit log intact: {report.checked} events verified")
            + f"; head #{report.head_seq} {report.head_hash}"
        )
