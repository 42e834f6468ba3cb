"""Reading the audit trail: filtered pages for staff, and the chain check for operators."""

import base64
import binascii
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Q, QuerySet

from accounts.auth_state import is_id
from audit.models import AuditChainHead, AuditEvent
from audit.services import HASH_VERSION, HASHED_COLUMNS, chain_count, event_hash
from config.errors import ServiceError

BAD_CURSOR = "The cursor is not valid."


def audit_filter(
    *,
    event: str | None = None,
    user: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[AuditEvent]:
    """Events newest first; `user` matches the actor or the target, by id or username."""
    events = AuditEvent.objects.all().order_by("-id")
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


def encode_cursor(event_id: int) -> str:
    return base64.urlsafe_b64encode(f"i{event_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        # "i": ids since there are several chains (cursors of the old "s"+seq form are refused).
        if not raw.startswith("i") or not is_id(raw[1:]):
            raise ValueError
        return int(raw[1:])
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ServiceError(BAD_CURSOR, errors={"cursor": [BAD_CURSOR]}) from None


def audit_page(
    *, events: QuerySet[AuditEvent], limit: int, cursor: str | None
) -> tuple[list[AuditEvent], str | None]:
    """One page of at most `limit` events older than the cursor, and the next cursor."""
    if cursor:
        events = events.filter(id__lt=decode_cursor(cursor))
    rows = list(events[: limit + 1])
    next_cursor = encode_cursor(rows[limit - 1].id) if len(rows) > limit else None
    return rows[:limit], next_cursor


@dataclass(frozen=True)
class ChainProblem:
    chain: int
    seq: int
    reason: str


@dataclass(frozen=True)
class ChainHeadState:
    chain: int
    last_seq: int
    last_hash: str
    anchor_seq: int
    anchor_hash: str

    def line(self) -> str:
        return f"chain {self.chain} head #{self.last_seq} {self.last_hash}"


@dataclass(frozen=True)
class ChainReport:
    checked: int
    heads: list[ChainHeadState]
    problem: ChainProblem | None

    @property
    def digest(self) -> str:
        """One SHA-256 over every chain's head, to keep elsewhere with the head lines."""
        return heads_digest(self.heads)


def heads_digest(heads: list[ChainHeadState]) -> str:
    text = "".join(f"{h.chain}:{h.last_seq}:{h.last_hash}\n" for h in heads)
    return hashlib.sha256(text.encode()).hexdigest()


_FIELD_NAMES = [name for name, _ in HASHED_COLUMNS]
_ROW_COLUMNS = (
    "id",
    "seq",
    "timestamp",
    "hash_version",
    "prev_hash",
    "hash",
    *(c for _, c in HASHED_COLUMNS),
)


def _chain_rows(chain: int, after_seq: int, batch: int) -> Iterator[tuple]:
    """The chain's events in order, as tuples: keyset pages over the (chain, seq) index, so
    memory stays flat on any size and no server-side cursor is needed (PgBouncer-safe)."""
    last = after_seq
    while True:
        rows = list(
            AuditEvent.objects.filter(chain=chain, seq__gt=last)
            .order_by("seq")
            .values_list(*_ROW_COLUMNS)[:batch]
        )
        if not rows:
            return
        yield from rows
        last = rows[-1][1]


def _verify_chain(head: ChainHeadState, batch: int) -> tuple[int, ChainProblem | None]:
    chain, expected_seq, prev_hash = head.chain, head.anchor_seq + 1, head.anchor_hash
    checked, last_id, seen_current_version = 0, 0, False
    for event_id, seq, timestamp, version, row_prev_hash, row_hash, *values in _chain_rows(
        chain, head.anchor_seq, batch
    ):
        if seq != expected_seq:
            return checked, ChainProblem(chain, expected_seq, "missing (deleted?)")
        if seq > head.last_seq:
            return checked, ChainProblem(chain, seq, "after the event the chain head names (inserted?)")
        # Version 1 exists only for the events of the single chain written before chains existed.
        if version == HASH_VERSION:
            seen_current_version = True
        elif version != 1 or chain != 0 or seen_current_version:
            return checked, ChainProblem(chain, seq, "content was changed (hash version)")
        if row_prev_hash != prev_hash:
            return checked, ChainProblem(chain, seq, "link to the previous event is broken")
        recomputed = event_hash(
            prev_hash=row_prev_hash,
            chain=chain,
            seq=seq,
            timestamp=timestamp,
            fields=dict(zip(_FIELD_NAMES, values, strict=True)),
            version=version,
        )
        if recomputed != row_hash:
            return checked, ChainProblem(chain, seq, "content was changed")
        # Ids come from one sequence and are drawn under the head's lock: they rise along a chain.
        if event_id <= last_id:
            return checked, ChainProblem(chain, seq, "out of order (moved?)")
        prev_hash, expected_seq, last_id, checked = row_hash, expected_seq + 1, event_id, checked + 1
    if expected_seq - 1 != head.last_seq or prev_hash != head.last_hash:
        return checked, ChainProblem(chain, expected_seq, "missing at the end (deleted?)")
    return checked, None


def chain_heads() -> list[ChainHeadState]:
    """Every chain's head, including configured chains nothing was written to yet."""
    stored = {head.id: head for head in AuditChainHead.objects.all()}
    return [
        ChainHeadState(chain, head.last_seq, head.last_hash, head.anchor_seq, head.anchor_hash)
        for chain in sorted(set(range(chain_count())) | set(stored))
        for head in [stored.get(chain) or AuditChainHead(pk=chain)]
    ]


def _verify_all(batch: int) -> ChainReport:
    heads = chain_heads()
    known = [h.chain for h in heads]
    gaps = sorted(set(range(known[-1] + 1)) - set(known))
    stray = (
        AuditEvent.objects.filter(Q(chain__gt=known[-1]) | Q(chain__in=gaps))
        .order_by("chain", "seq")
        .values_list("chain", "seq")
        .first()
    )
    checked = 0
    for head in heads:
        count, problem = _verify_chain(head, batch)
        if problem:
            return ChainReport(checked, heads, problem)
        checked += count
    if stray:
        return ChainReport(
            checked, heads, ChainProblem(stray[0], stray[1], "in a chain that has no head (inserted?)")
        )
    return ChainReport(checked, heads, None)


def audit_chain_verify(*, batch: int = 5000) -> ChainReport:
    """Walk every chain from its anchor: every hash recomputes, every link and position is in
    place, and each chain ends at the event its head names (so a truncated tail shows)."""
    connection = transaction.get_connection()
    if connection.in_atomic_block or connection.vendor != "postgresql":
        return _verify_all(batch)
    # One snapshot for the heads and every page, so writers appending meanwhile are no "tail".
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        return _verify_all(batch)
