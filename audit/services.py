"""Writing the audit trail: one insert per event, chained under a row lock on the chain head."""

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

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


def event_hash(*, prev_hash: str, seq: int, timestamp: datetime, fields: dict) -> str:
    """SHA-256 over the previous hash and this event's content, in a canonical encoding."""
    content = {"seq": seq, "timestamp": timestamp.isoformat(), **fields}
    encoded = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)
    return hashlib.sha256(f"{prev_hash}|{encoded}".encode()).hexdigest()


def hashed_fields(event: AuditEvent) -> dict:
    """The columns the hash covers (all but the hashes themselves and the surrogate id)."""
    return {
        "event": event.event,
        "outcome": event.outcome,
        "actor_id": event.actor_ref,
        "actor_kind": event.actor_kind,
        "actor_label": event.actor_label,
        "target_user_id": event.target_ref,
        "target_label": event.target_label,
        # The address, not its spelling: PostgreSQL's inet may print an address differently
        # from how it was written (an IPv4-mapped one, say), and the chain must still verify.
        "ip_address": canonical_ip(event.ip_address),
        "user_agent": event.user_agent,
        "request_id": event.request_id,
        "details": event.details,
    }


def _lock_chain_head() -> AuditChainHead:
    try:
        return AuditChainHead.objects.select_for_update().get(pk=1)
    except AuditChainHead.DoesNotExist:
        AuditChainHead.objects.bulk_create([AuditChainHead(pk=1)], ignore_conflicts=True)
        return AuditChainHead.objects.select_for_update().get(pk=1)


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
    # Inside the caller's transaction no savepoint is needed: an error here fails the whole write.
    with transaction.atomic(savepoint=not transaction.get_connection().in_atomic_block):
        # Lock last: the head is held only from here to the end of the caller's transaction.
        head = _lock_chain_head()
        row.seq = head.last_seq + 1
        row.timestamp = timezone.now()
        row.prev_hash = head.last_hash
        row.hash = event_hash(
            prev_hash=row.prev_hash, seq=row.seq, timestamp=row.timestamp, fields=hashed_fields(row)
        )
        row.save(force_insert=True)
        AuditChainHead.objects.filter(pk=1).update(last_seq=row.seq, last_hash=row.hash)
    return row


def audit_prune(*, older_than_days: int, meta: RequestMeta, batch_size: int = 5000) -> int:
    """Delete events older than N days; the first kept event's prev_hash becomes the anchor,
    so the remainder still verifies. Returns how many were deleted."""
    if older_than_days < 1:
        raise ValueError("older_than_days must be at least 1")
    cutoff = timezone.now() - timedelta(days=older_than_days)
    deleted = 0
    with transaction.atomic():
        head = _lock_chain_head()
        first_kept = AuditEvent.objects.filter(timestamp__gte=cutoff).order_by("seq").first()
        boundary_seq = first_kept.seq if first_kept else head.last_seq + 1
        anchor_hash = first_kept.prev_hash if first_kept else head.last_hash
        AuditChainHead.objects.filter(pk=1).update(anchor_seq=boundary_seq - 1, anchor_hash=anchor_hash)
    # Batches, each its own short transaction, so no statement holds locks for long.
    while True:
        ids = list(AuditEvent.objects.filter(seq__lt=boundary_seq).values_list("id", flat=True)[:batch_size])
        if not ids:
            break
        deleted += AuditEvent.objects.filter(id__in=ids).delete()[0]
    audit_record(
        event=Event.AUDIT_PRUNED,
        meta=meta,
        details={"older_than_days": older_than_days, "deleted": deleted, "anchor_seq": boundary_seq - 1},
    )
    return deleted
