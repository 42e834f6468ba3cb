"""Several hash chains: one head lock per transaction, tamper evidence in every chain, pruning,
the migration of the single chain, and one global order. Real PostgreSQL transactions."""

import hashlib
import io
import json
import threading
from datetime import timedelta
from http import HTTPStatus

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, connections, transaction
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from accounts.tests.helpers import bearer_client, login, staff_login
from audit.models import AuditChainHead, AuditEvent, Event
from audit.selectors import audit_chain_verify
from audit.services import GENESIS_HASH, audit_record, chain_for, event_hash, hashed_fields
from core.request import RequestMeta

pytestmark = pytest.mark.django_db(transaction=True)
META = RequestMeta(ip_address="198.51.100.7", user_agent="pytest", request_id="req-chains-1")


def label_chain(label: str) -> int:
    return chain_for(event=AuditEvent(target_label=label), chains=settings.AUDIT_CHAINS)


def labels_in_distinct_chains(count: int, prefix: str = "x") -> list[str]:
    """Target labels that, each on its own, go to `count` different chains."""
    found: dict[int, str] = {}
    i = 0
    while len(found) < count:
        found.setdefault(label_chain(f"{prefix}{i}"), f"{prefix}{i}")
        i += 1
    return list(found.values())


def fail_login(label: str, meta: RequestMeta = META) -> AuditEvent:
    return audit_record(event=Event.LOGIN_FAILED, meta=meta, target_label=label, outcome="failure")


def verify() -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("audit_verify", stdout=out)
    except CommandError as exc:
        return 1, str(exc)
    return 0, out.getvalue()


def run_writers(count: int, write) -> None:
    """`write(n)` on `count` threads started together, each with its own database connection
    (closed when it ends); any exception a writer raised fails the test."""
    errors: list[BaseException] = []
    start = threading.Barrier(count)

    def writer(n: int) -> None:
        try:
            start.wait()
            write(n)
        except BaseException as exc:  # noqa: BLE001 - reported below, the thread must not die silently
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors


def chain_with_events(minimum: int) -> tuple[int, list[AuditEvent]]:
    """A non-zero chain holding at least `minimum` events, written here if need be."""
    label = next(f"c{i}" for i in range(1000) if label_chain(f"c{i}") != 0)
    for _ in range(minimum):
        fail_login(label)
    chain = label_chain(label)
    return chain, list(AuditEvent.objects.filter(chain=chain).order_by("seq"))


@pytest.fixture
def spread():
    """40 events over many chains, each its own transaction (as 40 separate requests)."""
    return [fail_login(f"u{i}") for i in range(40)]


# --- Writing ---------------------------------------------------------------------------


def test_events_of_different_accounts_spread_over_chains_and_all_verify(spread):
    chains = {e.chain for e in spread}
    assert len(chains) > 4 and all(0 <= c < settings.AUDIT_CHAINS for c in chains)
    for chain in chains:
        seqs = list(AuditEvent.objects.filter(chain=chain).order_by("id").values_list("seq", flat=True))
        assert seqs == list(range(1, len(seqs) + 1))
    code, output = verify()
    assert code == 0, output
    assert f"40 events verified in {settings.AUDIT_CHAINS} chains" in output


def test_verify_prints_every_head_and_a_digest_over_them(spread):
    code, output = verify()
    assert code == 0
    head_lines = [line for line in output.splitlines() if line.startswith("chain ")]
    assert len(head_lines) == settings.AUDIT_CHAINS
    for head in AuditChainHead.objects.all():
        assert f"chain {head.id} head #{head.last_seq} {head.last_hash}" in head_lines
    expected = hashlib.sha256(
        "".join(
            f"{line.split()[1]}:{line.split()[3][1:]}:{line.split()[4]}\n" for line in head_lines
        ).encode()
    ).hexdigest()
    assert output.splitlines()[-1] == f"digest {expected}"


def test_one_accounts_events_stay_in_one_chain_in_order(user):
    for event in (Event.LOGIN_SUCCEEDED, Event.TOKEN_REFRESHED, Event.LOGOUT):
        audit_record(event=event, meta=META, actor=user, target=user)
    events = list(AuditEvent.objects.filter(target_ref=user.pk).order_by("id"))
    assert len({e.chain for e in events}) == 1
    assert [e.seq for e in events] == sorted(e.seq for e in events)


def test_a_transaction_writing_several_targets_puts_them_all_in_the_chain_of_its_first():
    first, second, third = labels_in_distinct_chains(3)
    with transaction.atomic():
        rows = [fail_login(first), fail_login(second), fail_login(third)]
    assert {r.chain for r in rows} == {label_chain(first)}
    assert [r.seq for r in rows] == [rows[0].seq, rows[0].seq + 1, rows[0].seq + 2]
    # The next transaction chooses again.
    assert fail_login(second).chain == label_chain(second)


def test_a_rolled_back_transaction_does_not_pin_the_next_one_to_its_chain():
    first, second = labels_in_distinct_chains(2)
    with pytest.raises(RuntimeError), transaction.atomic():
        fail_login(first)
        raise RuntimeError("rolled back")
    with transaction.atomic():
        assert fail_login(second).chain == label_chain(second)
    # A rolled-back savepoint released its head lock, so the transaction may choose again.
    with transaction.atomic():
        with pytest.raises(RuntimeError), transaction.atomic():
            fail_login(first)
            raise RuntimeError("savepoint rolled back")
        assert fail_login(second).chain == label_chain(second)
        assert fail_login(first).chain == label_chain(second)
    assert verify()[0] == 0


def test_concurrent_writers_with_crossed_multi_event_transactions_never_deadlock():
    """16 threads, each with its own connection, 20 transactions each; every transaction writes
    two events whose targets alone go to different chains, half in one order, half in the other
    (with a lock per target, A-then-B against B-then-A would deadlock)."""
    a, b = labels_in_distinct_chains(2, prefix="pair")

    def write(n: int) -> None:
        for i in range(20):
            meta = RequestMeta(ip_address="198.51.100.9", user_agent="pytest", request_id=f"t{n}-{i}")
            first, second = (a, b) if (n + i) % 2 else (b, a)
            with transaction.atomic():
                fail_login(first, meta)
                fail_login(f"{second}", meta)
                fail_login(f"other-{n}-{i}", meta)

    run_writers(16, write)
    assert AuditEvent.objects.count() == 16 * 20 * 3
    chains_per_transaction = {}
    for request_id, chain in AuditEvent.objects.values_list("request_id", "chain"):
        chains_per_transaction.setdefault(request_id, set()).add(chain)
    assert all(len(chains) == 1 for chains in chains_per_transaction.values())
    assert {c for chains in chains_per_transaction.values() for c in chains} == {
        label_chain(a),
        label_chain(b),
    }
    code, output = verify()
    assert code == 0, output
    assert "960 events verified" in output


def test_the_hash_the_database_computes_is_event_hash_of_the_stored_row(user):
    """The writer's chain step hashes in PostgreSQL (sha256 over the locked previous hash and the
    text around the seq); it matches the reference formula for awkward content, and the returned
    row is the stored one."""
    odd = RequestMeta(
        ip_address="::ffff:192.0.2.1",
        user_agent='Zoë\'s ☃ "agent"\n\t\\',
        request_id="r-ü",
        actor_kind="user",
    )
    written = [
        audit_record(
            event=Event.LOGIN_SUCCEEDED, meta=odd, actor=user, target=user, details={"remember_me": True}
        ),
        audit_record(
            event=Event.USER_UPDATED,
            meta=RequestMeta(ip_address=None),
            target_label='名前 ☃ "x"',
            details={"b": [1, 2.5, None, "ü", {"y": False}], "a": {"z": True}, "empty": {}, "n": -3},
        ),
    ]
    for row in written:
        stored = AuditEvent.objects.get(pk=row.pk)
        assert (stored.chain, stored.seq, stored.prev_hash, stored.hash) == (
            row.chain,
            row.seq,
            row.prev_hash,
            row.hash,
        )
        assert stored.hash == event_hash(
            prev_hash=stored.prev_hash,
            chain=stored.chain,
            seq=stored.seq,
            timestamp=stored.timestamp,
            fields=hashed_fields(stored),
        )
        head = AuditChainHead.objects.get(pk=stored.chain)
        if stored.chain == written[-1].chain:
            assert (head.last_seq, head.last_hash) == (written[-1].seq, written[-1].hash)


def test_the_first_event_of_a_chain_creates_its_head_and_links_to_genesis():
    AuditChainHead.objects.all().delete()
    row = fail_login("first-of-its-chain")
    assert (row.seq, row.prev_hash) == (1, GENESIS_HASH)
    head = AuditChainHead.objects.get(pk=row.chain)
    assert (head.last_seq, head.last_hash) == (1, row.hash)
    assert verify()[0] == 0


def test_an_over_long_value_is_refused_not_truncated_by_the_write_path():
    from django.db import DataError

    with pytest.raises(DataError):
        audit_record(event="x" * 41, meta=META, target_label="too-long-event")
    assert not AuditEvent.objects.filter(target_label="too-long-event").exists()


def test_concurrent_writers_on_one_chain_get_consecutive_positions_and_verify(settings):
    """AUDIT_CHAINS=1: 16 connections queue on one head; every event gets the next position,
    links to the one before, and the ids rise along the chain."""
    settings.AUDIT_CHAINS = 1

    def write(n: int) -> None:
        for i in range(25):
            meta = RequestMeta(ip_address="198.51.100.9", user_agent="pytest", request_id=f"one{n}-{i}")
            with transaction.atomic():
                fail_login(f"one-{n}-{i}", meta)

    run_writers(16, write)
    rows = list(AuditEvent.objects.order_by("seq").values_list("chain", "seq", "id", "prev_hash", "hash"))
    assert {r[0] for r in rows} == {0}
    assert [r[1] for r in rows] == list(range(1, 16 * 25 + 1))
    assert [r[2] for r in rows] == sorted(r[2] for r in rows)
    assert all(rows[i][3] == rows[i - 1][4] for i in range(1, len(rows)))
    code, output = verify()
    assert code == 0, output
    assert "400 events verified in 1 chains" in output


# --- Tampering, in a chain other than 0 ----------------------------------------------------


def test_an_edited_event_in_a_non_zero_chain_is_named(spread):
    chain, rows = chain_with_events(3)
    AuditEvent.objects.filter(pk=rows[1].pk).update(ip_address="203.0.113.1")
    code, message = verify()
    assert code == 1
    assert f"broken at chain {chain} event #{rows[1].seq}: content was changed" in message


def test_a_deleted_middle_event_is_named(spread):
    chain, rows = chain_with_events(3)
    AuditEvent.objects.filter(pk=rows[1].pk).delete()
    code, message = verify()
    assert code == 1 and f"chain {chain} event #{rows[1].seq}: missing (deleted?)" in message


def test_a_truncated_tail_of_any_chain_is_named(spread):
    chain, rows = chain_with_events(3)
    AuditEvent.objects.filter(pk=rows[-1].pk).delete()
    code, message = verify()
    assert code == 1 and f"chain {chain} event #{rows[-1].seq}: missing at the end" in message


def test_an_event_inserted_in_the_middle_is_named(spread):
    chain, rows = chain_with_events(4)
    k = rows[1].seq
    # Make room at k (two steps: the unique (chain, seq) index is checked row by row).
    AuditEvent.objects.filter(chain=chain, seq__gte=k).update(seq=models_f("seq") + 100000)
    AuditEvent.objects.filter(chain=chain, seq__gte=100000).update(seq=models_f("seq") - 99999)
    forged = AuditEvent(
        chain=chain,
        seq=k,
        timestamp=rows[1].timestamp,
        event=Event.LOGIN_SUCCEEDED,
        actor_kind="system",
        target_label="forged",
        prev_hash=rows[0].hash,
    )
    forged.hash = event_hash(
        prev_hash=forged.prev_hash,
        chain=chain,
        seq=k,
        timestamp=forged.timestamp,
        fields=hashed_fields(forged),
    )
    forged.save(force_insert=True)
    code, message = verify()
    assert code == 1
    # The forged row itself links and hashes; the event after it no longer does.
    assert f"broken at chain {chain} event #" in message
    assert f"event #{k}:" not in message


def models_f(name: str):
    from django.db.models import F

    return F(name)


def test_an_event_appended_behind_the_heads_back_is_named(spread):
    chain, rows = chain_with_events(2)
    last = rows[-1]
    forged = AuditEvent(
        chain=chain,
        seq=last.seq + 1,
        timestamp=timezone.now(),
        event=Event.LOGIN_SUCCEEDED,
        actor_kind="system",
        target_label="forged",
        prev_hash=last.hash,
    )
    forged.hash = event_hash(
        prev_hash=last.hash,
        chain=chain,
        seq=forged.seq,
        timestamp=forged.timestamp,
        fields=hashed_fields(forged),
    )
    forged.save(force_insert=True)
    code, message = verify()
    assert code == 1 and f"chain {chain} event #{forged.seq}: after the event the chain head names" in message


def test_two_swapped_events_are_named(spread):
    chain, rows = chain_with_events(3)
    first, second = rows[0], rows[1]
    AuditEvent.objects.filter(pk=first.pk).update(seq=-1)
    AuditEvent.objects.filter(pk=second.pk).update(seq=first.seq)
    AuditEvent.objects.filter(pk=first.pk).update(seq=second.seq)
    code, message = verify()
    assert code == 1 and f"broken at chain {chain} event #{first.seq}:" in message


def test_swapped_ids_within_a_chain_are_named(spread):
    """The global order is by id: moving an event's id ahead of its successor's shows too."""
    chain, rows = chain_with_events(2)
    first, second = rows[-2], rows[-1]
    free = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() + 1000
    AuditEvent.objects.filter(pk=first.pk).update(id=free)
    code, message = verify()
    assert code == 1 and f"chain {chain} event #{second.seq}: out of order (moved?)" in message


def test_moving_an_event_to_another_chain_is_named(spread):
    chain, rows = chain_with_events(2)
    AuditEvent.objects.filter(pk=rows[-1].pk).update(chain=settings.AUDIT_CHAINS + 3)
    code, message = verify()
    assert code == 1 and f"chain {chain} event #{rows[-1].seq}: missing at the end" in message


def test_an_event_in_a_chain_without_a_head_is_named(spread):
    stray = spread[0]
    AuditEvent.objects.create(
        **{
            f.attname: getattr(stray, f.attname)
            for f in AuditEvent._meta.concrete_fields
            if f.attname not in ("id", "chain")
        },
        chain=settings.AUDIT_CHAINS + 7,
    )
    code, message = verify()
    assert code == 1
    assert f"chain {settings.AUDIT_CHAINS + 7} event #{stray.seq}: in a chain that has no head" in message


def test_a_downgraded_hash_version_is_named(spread):
    chain, rows = chain_with_events(2)
    AuditEvent.objects.filter(pk=rows[0].pk).update(hash_version=1)
    code, message = verify()
    assert code == 1 and f"chain {chain} event #{rows[0].seq}: content was changed" in message


# --- Pruning ----------------------------------------------------------------------------


def _rechain(chain: int) -> None:
    prev = GENESIS_HASH
    for row in AuditEvent.objects.filter(chain=chain).order_by("seq"):
        row.prev_hash, row.hash = (
            prev,
            event_hash(
                prev_hash=prev, chain=chain, seq=row.seq, timestamp=row.timestamp, fields=hashed_fields(row)
            ),
        )
        AuditEvent.objects.filter(pk=row.pk).update(prev_hash=row.prev_hash, hash=row.hash)
        prev = row.hash
    AuditChainHead.objects.filter(pk=chain).update(last_hash=prev)


def test_prune_moves_every_chains_anchor_and_the_rest_verifies():
    old = [fail_login(f"old{i}") for i in range(20)]
    AuditEvent.objects.update(timestamp=timezone.now() - timedelta(days=100))
    for chain in {e.chain for e in old}:
        _rechain(chain)
    new = [fail_login(f"old{i}") for i in range(20)]  # same accounts: same chains
    out = io.StringIO()
    call_command("audit_prune", "--older-than-days", "30", stdout=out)
    assert "deleted 20 events" in out.getvalue()
    assert "digest " in out.getvalue() and out.getvalue().count(" head #") >= settings.AUDIT_CHAINS
    for chain in {e.chain for e in old}:
        head = AuditChainHead.objects.get(pk=chain)
        first_kept = AuditEvent.objects.filter(chain=chain).order_by("seq").first()
        old_in_chain = sum(1 for e in old if e.chain == chain)
        assert head.anchor_seq == old_in_chain == first_kept.seq - 1
        assert head.anchor_hash == first_kept.prev_hash
    assert AuditEvent.objects.count() == len(new) + 1
    pruned = AuditEvent.objects.get(event="audit.pruned")
    assert pruned.details["deleted"] == 20 and pruned.details["anchor_seqs"]
    code, output = verify()
    assert code == 0, output
    assert f"{len(new) + 1} events verified" in output


# --- Migration of the single chain -------------------------------------------------------


def _single_chain_hash(prev_hash: str, seq: int, timestamp, fields: dict) -> str:
    """The formula before chains existed, written out here independently of the code."""
    content = {"seq": seq, "timestamp": timestamp.isoformat(), **fields}
    encoded = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)
    return hashlib.sha256(f"{prev_hash}|{encoded}".encode()).hexdigest()


def test_the_migration_keeps_an_existing_single_chain_verifiable():
    executor = MigrationExecutor(connection)
    before = [("audit", "0003_event_refs")]
    latest = executor.loader.graph.leaf_nodes("audit")
    executor.migrate(before)
    try:
        apps = MigrationExecutor(connection).loader.project_state(before).apps
        OldEvent, OldHead = apps.get_model("audit", "AuditEvent"), apps.get_model("audit", "AuditChainHead")
        prev = GENESIS_HASH
        for seq in range(1, 6):
            fields = {
                "event": "auth.login_failed",
                "outcome": "failure",
                "actor_id": None,
                "actor_kind": "anonymous",
                "actor_label": "",
                "target_user_id": None,
                "target_label": f"legacy{seq}",
                "ip_address": "198.51.100.8",
                "user_agent": "old",
                "request_id": f"old-{seq}",
                "details": {"reason": "invalid_credentials"},
            }
            when = timezone.now()
            digest = _single_chain_hash(prev, seq, when, fields)
            OldEvent.objects.create(
                seq=seq,
                timestamp=when,
                event=fields["event"],
                outcome=fields["outcome"],
                actor_kind=fields["actor_kind"],
                target_label=fields["target_label"],
                ip_address=fields["ip_address"],
                user_agent=fields["user_agent"],
                request_id=fields["request_id"],
                details=fields["details"],
                prev_hash=prev,
                hash=digest,
            )
            prev = digest
        OldHead.objects.create(id=1, last_seq=5, last_hash=prev)
    finally:
        MigrationExecutor(connection).migrate(latest)

    migrated = list(AuditEvent.objects.order_by("seq"))
    assert [(e.chain, e.seq, e.hash_version) for e in migrated] == [(0, s, 1) for s in range(1, 6)]
    head = AuditChainHead.objects.get()
    assert (head.id, head.last_seq, head.last_hash) == (0, 5, prev)
    assert audit_chain_verify().problem is None
    # New events, chain 0 included, carry on after the migrated ones.
    label = next(f"n{i}" for i in range(1000) if label_chain(f"n{i}") == 0)
    carried = fail_login(label)
    assert (carried.chain, carried.seq, carried.prev_hash, carried.hash_version) == (0, 6, prev, 2)
    for i in range(10):
        fail_login(f"n{i}")
    code, output = verify()
    assert code == 0, output
    assert "16 events verified" in output
    # A migrated event edited afterwards is still caught.
    AuditEvent.objects.filter(chain=0, seq=3).update(user_agent="edited")
    code, message = verify()
    assert code == 1 and "chain 0 event #3: content was changed" in message


# --- One global order ---------------------------------------------------------------------


def test_api_admin_and_export_list_every_chain_newest_first_by_id(api_client, admin_user, client, tmp_path):
    for i in range(7):
        fail_login(f"g{i}")
    assert len(set(AuditEvent.objects.filter(event="auth.login_failed").values_list("chain", flat=True))) > 1
    admin_api = bearer_client(login(api_client, admin_user.username)["access_token"])
    page = admin_api.get("/api/v1/admin/audit-logs?limit=3&event=auth.login_failed")
    assert page.status_code == HTTPStatus.OK
    labels = [e["target_user"]["label"] for e in page.json()["results"]]
    second = admin_api.get(
        f"/api/v1/admin/audit-logs?limit=3&event=auth.login_failed&cursor={page.json()['next']}"
    ).json()
    third = admin_api.get(
        f"/api/v1/admin/audit-logs?limit=3&event=auth.login_failed&cursor={second['next']}"
    ).json()
    labels += [e["target_user"]["label"] for e in second["results"] + third["results"]]
    assert labels == ["g6", "g5", "g4", "g3", "g2", "g1", "g0"] and third["next"] is None

    staff_login(client, admin_user)
    changelist = client.get("/admin/audit/auditevent/")
    ids = [e.id for e in changelist.context["cl"].result_list]
    assert ids == sorted(AuditEvent.objects.values_list("id", flat=True), reverse=True)[: len(ids)]

    path = tmp_path / "audit.jsonl"
    call_command("audit_export", "--output", str(path), stdout=io.StringIO())
    exported = [json.loads(line)["id"] for line in path.read_text().splitlines()]
    assert exported == sorted(AuditEvent.objects.values_list("id", flat=True))


def test_verify_recomputes_exactly_what_the_writer_hashed_for_any_content(user):
    """audit_verify's fast recomputation and the writer's event_hash agree byte for byte."""
    odd = RequestMeta(
        ip_address="2001:db8::1", user_agent='Zoë\'s ☃ agent "quoted"\n', request_id="r-ü", actor_kind="user"
    )
    audit_record(
        event=Event.LOGIN_SUCCEEDED, meta=odd, actor=user, target=user, details={"remember_me": True}
    )
    audit_record(
        event=Event.USER_UPDATED,
        meta=RequestMeta(ip_address=None),
        target_label="名前 ☃",
        details={"b": [1, 2.5, None, "ü", {"y": False}], "a": {"z": True}, "empty": {}, "n": -3},
    )
    whole_second = fail_login("whole-second")
    AuditEvent.objects.filter(pk=whole_second.pk).update(
        timestamp=whole_second.timestamp.replace(microsecond=0)
    )
    _rechain(whole_second.chain)
    code, output = verify()
    assert code == 0, output
    assert "4 events verified" in output  # with the user fixture's user.created


def test_recorded_heads_catch_a_rewrite_of_a_whole_chain(spread, tmp_path):
    """Someone with database access re-hashes a chain and its head: the chain verifies on its
    own, but not against the heads printed earlier and kept outside the database."""
    code, output = verify()
    recorded = tmp_path / "heads.txt"
    recorded.write_text(output)
    chain, rows = chain_with_events(2)  # more events after the record
    out = io.StringIO()
    call_command("audit_verify", "--recorded", str(recorded), stdout=out)
    assert "events verified" in out.getvalue()

    head_line = next(line for line in output.splitlines() if line.startswith(f"chain {chain} head "))
    recorded_seq = int(head_line.split()[3][1:])
    assert recorded_seq >= 1
    AuditEvent.objects.filter(chain=chain, seq=1).update(target_label="rewritten")
    _rechain(chain)
    assert verify()[0] == 0
    with pytest.raises(
        CommandError, match=rf"chain {chain} event #{recorded_seq}: differs from the recorded head"
    ):
        call_command("audit_verify", "--recorded", str(recorded), stdout=io.StringIO())

    # Cut the chain back before the recorded head, head row included: still caught.
    AuditEvent.objects.filter(chain=chain, seq__gte=recorded_seq).delete()
    _rechain(chain)
    AuditChainHead.objects.filter(pk=chain).update(last_seq=recorded_seq - 1)
    assert verify()[0] == 0
    with pytest.raises(CommandError, match=rf"chain {chain} event #{recorded_seq}: a recorded head is gone"):
        call_command("audit_verify", "--recorded", str(recorded), stdout=io.StringIO())


def test_recorded_heads_file_without_heads_is_an_error(tmp_path, db):
    empty = tmp_path / "nothing.txt"
    empty.write_text("hello\n")
    with pytest.raises(CommandError, match="holds no head lines"):
        call_command("audit_verify", "--recorded", str(empty))
    with pytest.raises(CommandError, match="cannot read"):
        call_command("audit_verify", "--recorded", str(tmp_path / "missing.txt"))
