"""Reading the audit trail: filtered pages for staff, and the chain check for operators."""

import base64
import binascii
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q, QuerySet

from audit.models import AuditChainHead, AuditEvent
from audit.services import event_hash, hashed_fields
from core.errors import ServiceError
from core.ids import is_id

BAD_CURSOR = "The cursor is not valid."


def audit_filter(
    *,
    event: str | None = None,
    user: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[AuditEvent]:
    """Events newest first; `user` matches the actor or the target, by id or username."""
    events = AuditEvent.objects.all().order_by("-seq")
    if event:
        events = events.filter(event=event)
    if user:
        if is_id(user):
            events = events.filter(Q(actor_ref=int(user)) | Q(target_ref=int(user)))
        else:
            events = events.filter(Q(actor_label=user) | Q(target_label=user))
    if since:
        events = events.filter(timestamp__gte=since)
    if until:
        events = events.filter(timestamp__lt=until)
    return events


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"s{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not raw.startswith("s") or not is_id(raw[1:]):
            raise ValueError
        return int(raw[1:])
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ServiceError(BAD_CURSOR, errors={"cursor": [BAD_CURSOR]}) from None


def audit_page(
    *, events: QuerySet[AuditEvent], limit: int, cursor: str | None
) -> tuple[list[AuditEvent], str | None]:
    """One page of at most `limit` events older than the cursor, and the next cursor."""
    if cursor:
        events = events.filter(seq__lt=decode_cursor(cursor))
    rows = list(events[: limit + 1])
    next_cursor = encode_cursor(rows[limit - 1].seq) if len(rows) > limit else None
    return rows[:limit], next_cursor


@dataclass(frozen=True)
class ChainProblem:
    seq: int
    reason: str


@dataclass(frozen=True)
class ChainReport:
    checked: int
    head_seq: int
    head_hash: str
    problem: ChainProblem | None


def _events_in_order(after_seq: int, batch: int = 2000) -> Iterator[AuditEvent]:
    last = after_seq
    while True:
        rows = list(AuditEvent.objects.filter(seq__gt=last).order_by("seq")[:batch])
        if not rows:
            return
        yield from rows
        last = rows[-1].seq


def audit_chain_verify() -> ChainReport:
    """Walk the chain from the anchor: every hash recomputes, every link and seq is in place,
    and the last event is the one the chain head names (so a truncated tail shows)."""
    head = AuditChainHead.objects.filter(pk=1).first() or AuditChainHead(pk=1)
    expected_seq, prev_hash, checked = head.anchor_seq + 1, head.anchor_hash, 0
    for row in _events_in_order(head.anchor_seq):
        if row.seq != expected_seq:
            return ChainReport(
                checked, head.last_seq, head.last_hash, ChainProblem(expected_seq, "missing (deleted?)")
            )
        if row.prev_hash != prev_hash:
            return ChainReport(
                checked,
                head.last_seq,
                head.last_hash,
                ChainProblem(row.seq, "link to the previous event is broken"),
            )
        recomputed = event_hash(
            prev_hash=row.prev_hash, seq=row.seq, timestamp=row.timestamp, fields=hashed_fields(row)
        )
        if recomputed != row.hash:
            return ChainReport(
                checked, head.last_seq, head.last_hash, ChainProblem(row.seq, "content was changed")
            )
        prev_hash, expected_seq, checked = row.hash, expected_seq + 1, checked + 1
    if expected_seq - 1 != head.last_seq or prev_hash != head.last_hash:
        return ChainReport(
            checked,
            head.last_seq,
            head.last_hash,
            ChainProblem(expected_seq, "missing at the end (deleted?)"),
        )
    return ChainReport(checked, head.last_seq, head.last_hash, None)
