from django.core.management.base import BaseCommand, CommandError

from audit.selectors import ChainReport, audit_chain_verify


def write_heads(command: BaseCommand, report: ChainReport) -> None:
    """Each chain's head and the digest over all of them, to keep outside the database."""
    for head in report.heads:
        command.stdout.write(head.line())
    command.stdout.write(f"digest {report.digest}")


class Command(BaseCommand):
    help = (
        "Check the tamper-evidence of the whole audit log: in every chain, every event's hash and "
        "its link to the one before, and that the chain ends where its head says. Exits 1 naming "
        "the first bad event. Keep the printed heads and digest somewhere else (a ticket, a log "
        "shipper) to detect a rewrite of whole chains later."
    )

    def handle(self, *args, **options):
        report = audit_chain_verify()
        if report.problem:
            problem = report.problem
            raise CommandError(
                f"audit log is broken at chain {problem.chain} event #{problem.seq}: {problem.reason} "
                f"({report.checked} events verified before it)"
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"audit log intact: {report.checked} events verified in {len(report.heads)} chains"
            )
        )
        write_heads(self, report)
