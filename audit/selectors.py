"""Reading the audit trail: filtered pages for staff, and the chain check for operators."""

import base64
import binascii
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import transaction
from django.db.models import Q, QuerySet

from audit.models import AuditChainHead, AuditEvent
from audit.services import HASH_VERSION, canonical_json, chain_count, stored_event_hash
from core.errors import ServiceError
from core.ids import is_id

BAD_CURSOR = "The cursor is not valid."
RECORDED_HEAD_DIFFERS = "differs from the recorded head (rewritten?)"


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


# The columns stored_event_hash takes after its position arguments, in its order.
_VALUE_COLUMNS = (
    "actor_ref",
    "actor_kind",
    "actor_label",
    "event",
    "ip_address",
    "outcome",
    "request_id",
    "target_label",
    "target_ref",
    "user_agent",
)
_PAGE_SQL = (
    "SELECT id, seq, hash_version, prev_hash, hash, "  # noqa: S608 - fixed column names
    """to_char(timestamp AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'), details::text, """
    + ", ".join(_VALUE_COLUMNS)
    # A range of positions rather than LIMIT: the planner then never scans (and sorts) the rest
    # of the chain for each page.
    + " FROM audit_auditevent WHERE chain = %s AND seq > %s AND seq <= %s ORDER BY seq"
)


def _page(chain: int, after_seq: int, batch: int) -> list[tuple]:
    """The chain's events at positions after_seq + 1 .. after_seq + batch, as (id, seq, version, prev_hash,
    hash, UTC time as YYYY-MM-DDTHH:MM:SS.ffffff, details as JSON text, *_VALUE_COLUMNS)."""
    connection = transaction.get_connection()
    if connection.vendor == "postgresql":
        # Plain values straight from the server: no model, datetime or JSON objects (5M events
        # must verify in minutes).
        with connection.cursor() as cursor:
            cursor.execute(_PAGE_SQL, [chain, after_seq, after_seq + batch])
            return cursor.fetchall()
    rows = (
        AuditEvent.objects.filter(chain=chain, seq__gt=after_seq, seq__lte=after_seq + batch)
        .order_by("seq")
        .values_list(
            "id", "seq", "hash_version", "prev_hash", "hash", "timestamp", "details", *_VALUE_COLUMNS
        )
    )
    return [
        (
            *row[:5],
            row[5].astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds"),
            json.dumps(row[6]),
            *row[7:],
        )
        for row in rows
    ]


def _chain_rows(chain: int, after_seq: int, batch: int) -> Iterator[tuple]:
    """The chain's events in order: keyset pages over the (chain, seq) index, so memory stays
    flat on any size and no server-side cursor is needed (PgBouncer-safe)."""
    last = after_seq
    while True:
        rows = _page(chain, last, batch)
        if rows:
            yield from rows
            last = rows[-1][1]
            continue
        # Positions are gap-free, so an empty range is the end, unless events were deleted:
        # then go on from the next event there is (the walk reports the gap).
        following = (
            AuditEvent.objects.filter(chain=chain, seq__gt=last).order_by("seq").values_list("seq")[:1]
        )
        if not following:
            return
        last = following[0][0] - 1


def _verify_chain(
    head: ChainHeadState, batch: int, recorded: tuple[int, str] | None
) -> tuple[int, ChainProblem | None]:
    chain, expected_seq, prev_hash = head.chain, head.anchor_seq + 1, head.anchor_hash
    recorded_seq, recorded_hash = recorded or (0, "")
    if recorded_seq and recorded_seq == head.anchor_seq and recorded_hash != head.anchor_hash:
        return 0, ChainProblem(chain, recorded_seq, RECORDED_HEAD_DIFFERS)
    checked, last_id, seen_current_version = 0, 0, False
    canonical_details: dict[str, str] = {"{}": "{}"}  # details repeat a lot; parse each once
    for event_id, seq, version, row_prev_hash, row_hash, utc, details, *values in _chain_rows(
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
        # datetime.isoformat() of the UTC time, as the writer hashed it.
        timestamp_iso = (utc[:-7] if utc.endswith(".000000") else utc) + "+00:00"
        details_json = canonical_details.get(details)
        if details_json is None:
            if len(canonical_details) > 10000:
                canonical_details.clear()
            details_json = canonical_details[details] = canonical_json(json.loads(details))
        if (
            stored_event_hash(row_prev_hash, chain, seq, version, timestamp_iso, details_json, *values)
            != row_hash
        ):
            return checked, ChainProblem(chain, seq, "content was changed")
        if seq == recorded_seq and row_hash != recorded_hash:
            return checked, ChainProblem(chain, seq, RECORDED_HEAD_DIFFERS)
        # Ids come from one sequence and are drawn under the head's lock: they rise along a chain.
        if event_id <= last_id:
            return checked, ChainProblem(chain, seq, "out of order (moved?)")
        prev_hash, expected_seq, last_id, checked = row_hash, expected_seq + 1, event_id, checked + 1
    if expected_seq - 1 != head.last_seq or prev_hash != head.last_hash:
        return checked, ChainProblem(chain, expected_seq, "missing at the end (deleted?)")
    if recorded_seq > head.last_seq:
        return checked, ChainProblem(chain, recorded_seq, "a recorded head is gone (truncated or rewritten?)")
    return checked, None


def chain_heads() -> list[ChainHeadState]:
    """Every chain's head, including configured chains nothing was written to yet."""
    stored = {head.id: head for head in AuditChainHead.objects.all()}
    return [
        ChainHeadState(chain, head.last_seq, head.last_hash, head.anchor_seq, head.anchor_hash)
        for chain in sorted(set(range(chain_count())) | set(stored))
        for head in [stored.get(chain) or AuditChainHead(pk=chain)]
    ]


def _verify_all(batch: int, recorded: dict[int, tuple[int, str]]) -> ChainReport:
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
        count, problem = _verify_chain(head, batch, recorded.get(head.chain))
        if problem:
            return ChainReport(checked, heads, problem)
        checked += count
    unknown = sorted(set(recorded) - set(known))
    if unknown:
        return ChainReport(
            checked, heads, ChainProblem(unknown[0], recorded[unknown[0]][0], "a recorded chain is gone")
        )
    if stray:
        return ChainReport(
            checked, heads, ChainProblem(stray[0], stray[1], "in a chain that has no head (inserted?)")
        )
    return ChainReport(checked, heads, None)


def audit_chain_verify(
    *, batch: int = 5000, recorded: dict[int, tuple[int, str]] | None = None
) -> ChainReport:
    """Walk every chain from its anchor: every hash recomputes, every link and position is in
    place, and each chain ends at the event its head names (so a truncated tail shows).
    `recorded`: heads printed by an earlier run, {chain: (seq, hash)}; each must still be in
    its chain (unless pruned past), which a rewrite of whole chains cannot fake."""
    recorded = recorded or {}
    connection = transaction.get_connection()
    if connection.in_atomic_block or connection.vendor != "postgresql":
        return _verify_all(batch, recorded)
    # One snapshot for the heads and every page, so writers appending meanwhile are no "tail".
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            cursor.execute("SET LOCAL work_mem = '32MB'")  # each page sorts in memory
        return _verify_all(batch, recorded)
