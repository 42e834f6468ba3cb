from django.core.management.base import BaseCommand, CommandError

from audit.management.commands.audit_verify import write_heads
from audit.selectors import audit_chain_verify
from audit.services import audit_prune
from core.request import RequestMeta


class Command(BaseCommand):
    help = (
        "Delete audit events older than N days. In each chain the first kept event becomes the "
        "anchor, so audit_verify still passes on what remains. The pruning itself is audited; the "
        "chain heads are printed for external anchoring."
    )

    def add_arguments(self, parser):
        parser.add_argument("--older-than-days", type=int, required=True)

    def handle(self, *args, **options):
        days = options["older_than_days"]
        if days < 1:
            raise CommandError("--older-than-days must be at least 1")
        deleted = audit_prune(older_than_days=days, meta=RequestMeta.operator("audit_prune"))
        report = audit_chain_verify()
        self.stdout.write(self.style.SUCCESS(f"deleted {deleted} events older than {days} days"))
        if report.problem:
            raise CommandError(
                f"the remaining log does not verify at chain {report.problem.chain} "
                f"event #{report.problem.seq}: {report.problem.reason}"
            )
        write_heads(self, report)
