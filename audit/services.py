"""Writing the audit trail: one insert per event, appended to one of AUDIT_CHAINS hash chains
under a row lock on that chain's head only."""

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.hooks import audit_listeners_notify_on_commit
from audit.models import ActorKind, AuditChainHead, AuditEvent, Event, Outcome
from core.request import RequestMeta, canonical_ip

SCRUBBED = "[scrubbed]"
_SECRET_WORDS = ("password", "token", "secret", "authorization", "cookie", "api_key")
_SECRET_KEYS = {"key", "raw", "jwt"}


def scrub(value: Any) -> Any:
    """Details minus anything that could be a credential, at any depth."""
    if isinstance(value, dict):
        return {str(k): SCRUBBED if _is_secret_key(str(k)) else scrub(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def _is_secret_key(key: str) -> bool:
    lowered = key.lower()
    return lowered in _SECRET_KEYS or any(word in lowered for word in _SECRET_WORDS)


# Version 1: the single-chain formula of events written before there were several chains
# (migrated into chain 0 as they were). Version 2 also covers the chain number.
HASH_VERSION = 2
GENESIS_HASH = "0" * 64

# The columns the hash covers, by their name in the hashed JSON: all but the hashes
# themselves, the surrogate id and the foreign keys (which go NULL when a user is deleted;
# the *_ref snapshots never change).
HASHED_COLUMNS = (
    ("event", "event"),
    ("outcome", "outcome"),
    ("actor_id", "actor_ref"),
    ("actor_kind", "actor_kind"),
    ("actor_label", "actor_label"),
    ("target_user_id", "target_ref"),
    ("target_label", "target_label"),
    ("ip_address", "ip_address"),
    ("user_agent", "user_agent"),
    ("request_id", "request_id"),
    ("details", "details"),
)


def event_hash(
    *, prev_hash: str, chain: int, seq: int, timestamp: datetime, fields: dict, version: int = HASH_VERSION
) -> str:
    """SHA-256 over the previous hash and this event's content and position, canonically encoded."""
    if version == 1:
        content = {"seq": seq, "timestamp": timestamp.isoformat(), **fields}
    else:
        content = {"chain": chain, "seq": seq, "timestamp": timestamp.isoformat(), **fields}
    return hashlib.sha256(f"{prev_hash}|{canonical_json(content)}".encode()).hexdigest()


_encode_str = json.encoder.encode_basestring_ascii


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)


def stored_event_hash(
    prev_hash: str,
    chain: int,
    seq: int,
    version: int,
    timestamp_iso: str,
    details_json: str,
    actor_ref: int | None,
    actor_kind: str,
    actor_label: str,
    event: str,
    ip_address: str | None,
    outcome: str,
    request_id: str,
    target_label: str,
    target_ref: int | None,
    user_agent: str,
) -> str:
    """event_hash, byte for byte, for a stored row read as plain values (audit_verify's hot
    loop): the same canonical JSON spelled out in its sorted key order, with no dict to build.
    `details_json` is already canonical; the text columns are NOT NULL."""
    position = "" if version == 1 else f'"chain":{chain},'
    actor_id = "null" if actor_ref is None else actor_ref
    target_id = "null" if target_ref is None else target_ref
    if ip_address is not None and ":" in ip_address:
        ip_address = canonical_ip(ip_address)  # IPv6 spellings vary (see hashed_fields)
    ip = "null" if ip_address is None else _encode_str(ip_address)
    content = (
        f'{{"actor_id":{actor_id},"actor_kind":{_encode_str(actor_kind)},'
        f'"actor_label":{_encode_str(actor_label)},{position}"details":{details_json},'
        f'"event":{_encode_str(event)},"ip_address":{ip},"outcome":{_encode_str(outcome)},'
        f'"request_id":{_encode_str(request_id)},"seq":{seq},"target_label":{_encode_str(target_label)},'
        f'"target_user_id":{target_id},"timestamp":{_encode_str(timestamp_iso)},'
        f'"user_agent":{_encode_str(user_agent)}}}'
    )
    return hashlib.sha256(f"{prev_hash}|{content}".encode()).hexdigest()


def hashed_fields(event: AuditEvent) -> dict:
    """The columns the hash covers, from a model instance. The address is hashed as its
    canonical spelling: PostgreSQL's inet may print an address differently from how it was
    written (an IPv4-mapped one, say), and the chain must still verify."""
    fields = {name: getattr(event, column) for name, column in HASHED_COLUMNS}
    fields["ip_address"] = canonical_ip(fields["ip_address"])
    return fields


def chain_count() -> int:
    return settings.AUDIT_CHAINS


def chain_for(*, event: AuditEvent, chains: int) -> int:
    """The chain an event goes to when it opens a transaction: a stable hash of its target,
    else its actor, else its request, so one account's events stay in one chain, in order."""
    if event.target_ref is not None:
        key = f"user:{event.target_ref}"
    elif event.target_label:
        key = f"name:{event.target_label}"
    elif event.actor_ref is not None:
        key = f"user:{event.actor_ref}"
    elif event.actor_label:
        key = f"name:{event.actor_label}"
    else:
        key = f"request:{event.request_id}"
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big") % chains


class _ChainOfTransaction:
    """An on-commit no-op whose presence in the connection's pending on-commit hooks marks the
    transaction that chose `chain`: Django drops the hooks on commit and on rollback (and those
    of a rolled-back savepoint, whose row locks PostgreSQL releases too)."""

    __slots__ = ("chain",)

    def __init__(self, chain: int) -> None:
        self.chain = chain

    def __call__(self) -> None:
        pass


def _chain_of_transaction(connection, preferred: int) -> int:
    """Every event of one transaction goes to the chain of its first event, so a transaction
    locks exactly one chain head and two transactions can never deadlock on two heads."""
    pinned = getattr(connection, "_audit_chain_of_transaction", None)
    if pinned is not None and any(hook is pinned for _, hook, _ in connection.run_on_commit):
        return pinned.chain
    pinned = _ChainOfTransaction(preferred)
    connection._audit_chain_of_transaction = pinned
    transaction.on_commit(pinned, using=connection.alias)
    return preferred


def _lock_chain_head(chain: int) -> AuditChainHead:
    try:
        return AuditChainHead.objects.select_for_update().get(pk=chain)
    except AuditChainHead.DoesNotExist:
        AuditChainHead.objects.bulk_create([AuditChainHead(pk=chain)], ignore_conflicts=True)
        return AuditChainHead.objects.select_for_update().get(pk=chain)


def event_hash_parts(*, chain: int, timestamp: datetime, fields: dict) -> tuple[str, str]:
    """The hashed text of a (current version) event around its seq, which is known only once
    its chain head is locked: event_hash is sha256(f"{prev_hash}|{before}{seq}{after}")."""
    content = {"chain": chain, "timestamp": timestamp.isoformat(), **fields}
    # canonical_json sorts the keys: "seq" goes between these two halves.
    before = canonical_json({k: v for k, v in content.items() if k < "seq"})
    after = canonical_json({k: v for k, v in content.items() if k > "seq"})
    return f'{before[:-1]},"seq":', f",{after[1:]}"


# On PostgreSQL the chain step is ONE statement, sent with everything else already computed:
# it locks the head, moves it (seq + 1, the new hash computed by the server's sha256() from the
# locked previous hash and the text around the seq), and inserts the event, so the head is held
# from that statement to the end of the transaction with no further round trip of this code.
# The FOR UPDATE subquery hands the locked row's previous values to RETURNING (an UPDATE's own
# RETURNING sees only the new ones); under concurrent writers it waits and reads the newest head.
# Every value is a parameter, cast to its column's type (INSERT ... SELECT does not infer it);
# text casts to text, so an over-long value fails as it would in an INSERT ... VALUES.
_EVENT_FIELDS = [f for f in AuditEvent._meta.concrete_fields if not f.primary_key]
_CHAIN_STEP_FIELDS = ("seq", "prev_hash", "hash")
_VALUE_FIELDS = [f for f in _EVENT_FIELDS if f.attname not in _CHAIN_STEP_FIELDS]
_VALUE_ATTNAMES = [f.attname for f in _VALUE_FIELDS]
_DETAILS_PARAM = 3 + _VALUE_ATTNAMES.index("details")  # after the two text halves and the chain
_append_sql_cache: dict[str, str] = {}


def _append_sql(connection) -> str:
    sql = _append_sql_cache.get(connection.alias)
    if sql is None:
        quote = connection.ops.quote_name
        head, event = quote(AuditChainHead._meta.db_table), quote(AuditEvent._meta.db_table)
        columns = ", ".join(quote(c) for c in [*(f.column for f in _VALUE_FIELDS), *_CHAIN_STEP_FIELDS])
        values = ", ".join(
            f"%s::{'text' if f.get_internal_type() == 'CharField' else f.cast_db_type(connection)}"
            for f in _VALUE_FIELDS
        )
        # Table and column names come from the models; every value is a parameter.
        sql = _append_sql_cache[connection.alias] = (
            f"WITH head AS (UPDATE {head} AS h SET last_seq = old.last_seq + 1, "  # noqa: S608
            "last_hash = encode(sha256(convert_to("
            "old.last_hash || '|' || %s::text || (old.last_seq + 1)::text || %s::text, 'UTF8')), 'hex') "
            f"FROM (SELECT id, last_seq, last_hash FROM {head} WHERE id = %s FOR UPDATE) AS old "
            "WHERE h.id = old.id RETURNING h.last_seq, old.last_hash AS prev_hash, h.last_hash) "
            f"INSERT INTO {event} ({columns}) SELECT {values}, head.last_seq, head.prev_hash, head.last_hash "
            "FROM head RETURNING id, seq, prev_hash, hash"
        )
    return sql


def _append(connection, row: AuditEvent) -> None:
    """Lock the row's chain head until the transaction ends, and append the row to the chain."""
    if connection.vendor != "postgresql":
        head = _lock_chain_head(row.chain)
        row.seq, row.prev_hash = head.last_seq + 1, head.last_hash
        row.hash = event_hash(
            prev_hash=row.prev_hash,
            chain=row.chain,
            seq=row.seq,
            timestamp=row.timestamp,
            fields=hashed_fields(row),
        )
        row.save(force_insert=True)
        AuditChainHead.objects.filter(pk=row.chain).update(last_seq=row.seq, last_hash=row.hash)
        return
    before, after = event_hash_parts(chain=row.chain, timestamp=row.timestamp, fields=hashed_fields(row))
    params = [before, after, row.chain]
    # The values as psycopg takes them (no per-field get_db_prep_save: this runs on every login);
    # the casts in the statement type them, details goes as JSON text.
    params += [getattr(row, name) for name in _VALUE_ATTNAMES]
    params[_DETAILS_PARAM] = json.dumps(row.details)
    with connection.cursor() as cursor:
        cursor.execute(_append_sql(connection), params)
        appended = cursor.fetchone()
        if appended is None:  # the chain has no head yet
            AuditChainHead.objects.bulk_create([AuditChainHead(pk=row.chain)], ignore_conflicts=True)
            cursor.execute(_append_sql(connection), params)
            appended = cursor.fetchone()
    row.pk, row.seq, row.prev_hash, row.hash = appended
    row._state.adding, row._state.db = False, connection.alias


def audit_record(
    *,
    event: str,
    meta: RequestMeta,
    outcome: str = Outcome.SUCCESS,
    target=None,
    target_label: str = "",
    actor=None,
    details: dict | None = None,
) -> AuditEvent:
    """Append one event, in the caller's transaction when there is one.

    `actor` overrides the request's actor (a login's actor is the user who just proved who
    they are). Credentials in `details` are scrubbed.
    """
    if actor is not None:
        actor_id, actor_kind, actor_label = actor.pk, ActorKind.USER, actor.username
    else:
        actor_id, actor_kind, actor_label = meta.actor_id, meta.actor_kind, meta.actor_label
    target_id = target.pk if target is not None else None
    row = AuditEvent(
        event=event,
        outcome=outcome,
        actor_id=actor_id,
        actor_ref=actor_id,
        actor_kind=actor_kind,
        actor_label=actor_label[:200],
        target_user_id=target_id,
        target_ref=target_id,
        target_label=(target.username if target is not None else target_label)[:200],
        ip_address=canonical_ip(meta.ip_address),
        user_agent=meta.user_agent[:512],
        request_id=meta.request_id[:64],
        details=scrub(details or {}),
    )
    connection = transaction.get_connection()
    # Inside the caller's transaction no savepoint is needed: an error here fails the whole write.
    with transaction.atomic(savepoint=not connection.in_atomic_block):
        row.chain = _chain_of_transaction(connection, chain_for(event=row, chains=chain_count()))
        row.timestamp = timezone.now()
        row.hash_version = HASH_VERSION
        # Lock last: the head is held only from here to the end of the caller's transaction,
        # and it blocks only the writers of this one chain.
        _append(connection, row)
        audit_listeners_notify_on_commit(event=row.event, outcome=row.outcome, details=row.details)
    return row


def chain_numbers() -> list[int]:
    """Every chain to check or prune: the configured ones and any other that has a head
    (AUDIT_CHAINS may have been lowered since)."""
    return sorted(set(range(chain_count())) | set(AuditChainHead.objects.values_list("id", flat=True)))


def audit_prune(*, older_than_days: int, meta: RequestMeta, batch_size: int = 5000) -> int:
    """Delete events older than N days, chain by chain; each chain's first kept event's
    prev_hash becomes its anchor, so the remainder still verifies. Returns how many were deleted."""
    if older_than_days < 1:
        raise ValueError("older_than_days must be at least 1")
    cutoff = timezone.now() - timedelta(days=older_than_days)
    deleted = 0
    anchors = {}
    for chain in chain_numbers():
        # One head per transaction, held only while its anchor moves.
        with transaction.atomic():
            head = _lock_chain_head(chain)
            first_kept = (
                AuditEvent.objects.filter(chain=chain, seq__gt=head.anchor_seq, timestamp__gte=cutoff)
                .order_by("seq")
                .values_list("seq", "prev_hash")
                .first()
            )
            boundary_seq, anchor_hash = first_kept or (head.last_seq + 1, head.last_hash)
            AuditChainHead.objects.filter(pk=chain).update(
                anchor_seq=boundary_seq - 1, anchor_hash=anchor_hash
            )
        if boundary_seq > 1:
            anchors[str(chain)] = boundary_seq - 1
        # Batches, each its own short transaction, so no statement holds locks for long.
        while True:
            ids = list(
                AuditEvent.objects.filter(chain=chain, seq__lt=boundary_seq)
                .order_by("seq")
                .values_list("id", flat=True)[:batch_size]
            )
            if not ids:
                break
            deleted += AuditEvent.objects.filter(id__in=ids).delete()[0]
    audit_record(
        event=Event.AUDIT_PRUNED,
        meta=meta,
        details={"older_than_days": older_than_days, "deleted": deleted, "anchor_seqs": anchors},
    )
    return deleted
