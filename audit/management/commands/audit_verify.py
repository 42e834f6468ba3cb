import re

from django.core.management.base import BaseCommand, CommandError

from audit.selectors import ChainReport, audit_chain_verify


def write_heads(command: BaseCommand, report: ChainReport) -> None:
    """Each chain's head and the digest over all of them, to keep outside the database."""
    for head in report.heads:
        command.stdout.write(head.line())
    command.stdout.write(f"digest {report.digest}")


HEAD_LINE = re.compile(r"^chain (\d+) head #(\d+) ([0-9a-f]{64})$")


def read_recorded_heads(path: str) -> dict[int, tuple[int, str]]:
    """The head lines of an earlier audit_verify or audit_prune output (other lines ignored)."""
    try:
        with open(path, encoding="utf-8") as recorded:
            lines = recorded.read().splitlines()
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror}") from None
    heads = {int(m[1]): (int(m[2]), m[3]) for m in map(HEAD_LINE.match, lines) if m}
    if not heads:
        raise CommandError(f"{path} holds no head lines such as 'chain 0 head #12 <sha256>'")
    return heads


class Command(BaseCommand):
    help = (
        "Check the tamper-evidence of the whole audit log: in every chain, every event's hash and "
        "its link to the one before, and that the chain ends where its head says. Exits 1 naming "
        "the first bad event. Keep the printed heads and digest somewhere else (a ticket, a log "
        "shipper) to detect a rewrite of whole chains later."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--recorded",
            metavar="FILE",
            help="output of an earlier run kept outside the database: each head it names must "
            "still be in its chain (unless pruned past)",
        )

    def handle(self, *args, **options):
        recorded = read_recorded_heads(options["recorded"]) if options["recorded"] else None
        report = audit_chain_verify(recorded=recorded)
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
