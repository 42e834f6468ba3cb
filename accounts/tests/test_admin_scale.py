"""The admin pages that must stay index lookups on millions of rows (./bench/admin-pages times
them): the user's page lists only their newest sessions, the Sessions and token pages search
by exact values, and the migration that adds the search indexes works on this database."""

from datetime import timedelta
from http import HTTPStatus

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from accounts.admin import SESSION_INLINE_LIMIT
from accounts.models import RevokeReason, Session
from accounts.selectors import user_list
from accounts.tests.factories import UserFactory, session_open
from accounts.tests.helpers import staff_login
from core.request import RequestMeta

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client, admin_user):
    staff_login(client, admin_user)
    return client


def old_sessions(user, count: int, *, live_every: int = 0) -> list[Session]:
    """`count` sessions, the i-th logged in i hours ago; every `live_every`-th still live."""
    now = timezone.now()
    sessions = []
    for i in range(count):
        created = now - timedelta(hours=i + 1)
        live = live_every and i % live_every == 0
        sessions.append(
            Session(
                user=user,
                refresh_jti=f"jti-{user.pk}-{i}",
                created_at=created,
                last_used_at=created,
                expires_at=now + timedelta(days=1) if live else created + timedelta(minutes=30),
                absolute_expires_at=now + timedelta(days=30),
                user_agent=f"agent {i:03d}",
            )
        )
    return Session.objects.bulk_create(sessions)


def test_user_page_lists_only_the_newest_sessions_and_links_to_every_one(staff, user):
    sessions = old_sessions(user, SESSION_INLINE_LIMIT + 15, live_every=10)
    page = staff.get(f"/admin/accounts/user/{user.pk}/change/")
    assert page.status_code == HTTPStatus.OK
    inline = page.context["inline_admin_formsets"][0].formset
    shown = [form.instance.pk for form in inline.forms]
    assert shown == [s.pk for s in sessions[:SESSION_INLINE_LIMIT]]  # newest first
    html = page.content.decode()
    assert "agent 000" in html and f"agent {SESSION_INLINE_LIMIT:03d}" not in html
    # 4 of the 35 are live (i = 0, 10, 20, 30); the link opens the Sessions page on this user.
    assert '4 live; <a href="/admin/accounts/session/?q=alice">every session of alice</a>' in html
    listing = staff.get("/admin/accounts/session/?q=alice")
    assert listing.context["cl"].result_count == SESSION_INLINE_LIMIT + 15


def test_user_page_still_saves_with_more_sessions_than_it_shows(staff, user):
    old_sessions(user, SESSION_INLINE_LIMIT + 5)
    page = staff.get(f"/admin/accounts/user/{user.pk}/change/")
    inline = page.context["inline_admin_formsets"][0].formset
    data = {
        "full_name": "Alice Renamed",
        "role": user.role,
        "is_active": "on",
        f"{inline.prefix}-TOTAL_FORMS": str(len(inline.forms)),
        f"{inline.prefix}-INITIAL_FORMS": str(len(inline.forms)),
        f"{inline.prefix}-MIN_NUM_FORMS": "0",
        f"{inline.prefix}-MAX_NUM_FORMS": "0",
    }
    for i, form in enumerate(inline.forms):
        data[f"{inline.prefix}-{i}-id"] = str(form.instance.pk)
        data[f"{inline.prefix}-{i}-user"] = str(user.pk)
    response = staff.post(f"/admin/accounts/user/{user.pk}/change/", data)
    assert response.status_code == HTTPStatus.FOUND, response.content[:2000]
    user.refresh_from_db()
    assert user.full_name == "Alice Renamed"


def test_user_page_reads_a_bounded_number_of_rows_however_many_sessions(staff, user):
    old_sessions(user, 3)
    with CaptureQueriesContext(connection) as few:
        staff.get(f"/admin/accounts/user/{user.pk}/change/")
    Session.objects.filter(user=user).delete()
    old_sessions(user, 60)
    with CaptureQueriesContext(connection) as many:
        page = staff.get(f"/admin/accounts/user/{user.pk}/change/")
    assert len(page.context["inline_admin_formsets"][0].formset.forms) == SESSION_INLINE_LIMIT
    assert len(many) == len(few)


def test_session_search_is_the_exact_username_in_any_case_or_the_exact_address(staff, user):
    bob = UserFactory(username="bob", email="bob@example.com")
    session_open(user, meta=RequestMeta(ip_address="198.51.100.7", user_agent="a", request_id="r1"))
    session_open(bob, meta=RequestMeta(ip_address="2001:db8::1", user_agent="b", request_id="r2"))

    def found(term: str) -> set[str]:
        page = staff.get("/admin/accounts/session/", {"q": term})
        assert page.status_code == HTTPStatus.OK
        return {s.user.username for s in page.context["cl"].result_list}

    assert found("ALICE") == {"alice"}
    assert found("ali") == set()  # exact names only: an index lookup, not a scan
    assert found("198.51.100.7") == {"alice"}
    assert found("2001:DB8:0::1") == {"bob"}  # the address, however it is written
    assert found("198.51.100") == set()
    assert found("2001:db8::1%eth0") == {"bob"}  # a zone id is no part of the stored address
    assert found("::ffff:198.51.100.7") == {"alice"}  # nor is the IPv4-mapped form


def test_token_pages_list_newest_first_and_search_by_jti_user_id_or_username(staff, user):
    bob = UserFactory(username="bob", email="bob@example.com")
    first, _ = session_open(user)
    second, _ = session_open(bob)
    second_token = OutstandingToken.objects.get(jti=second.refresh_jti)
    BlacklistedToken.objects.create(token=OutstandingToken.objects.get(jti=first.refresh_jti))
    BlacklistedToken.objects.create(token=second_token)

    outstanding = staff.get("/admin/token_blacklist/outstandingtoken/")
    assert outstanding.status_code == HTTPStatus.OK
    assert [t.jti for t in outstanding.context["cl"].result_list] == [second.refresh_jti, first.refresh_jti]
    for term in (second.refresh_jti, str(bob.pk), "BOB"):
        page = staff.get("/admin/token_blacklist/outstandingtoken/", {"q": term})
        assert [t.jti for t in page.context["cl"].result_list] == [second.refresh_jti], term
    assert not staff.get("/admin/token_blacklist/outstandingtoken/", {"q": "bo"}).context["cl"].result_list

    blacklisted = staff.get("/admin/token_blacklist/blacklistedtoken/")
    assert [b.token.jti for b in blacklisted.context["cl"].result_list] == [
        second.refresh_jti,
        first.refresh_jti,
    ]
    for term in (first.refresh_jti, str(user.pk), "Alice"):
        page = staff.get("/admin/token_blacklist/blacklistedtoken/", {"q": term})
        assert [b.token.jti for b in page.context["cl"].result_list] == [first.refresh_jti], term


def test_session_page_filters_still_work(staff, user):
    session, _ = session_open(user)
    Session.objects.filter(pk=session.pk).update(
        revoked_at=timezone.now(), revoked_reason=RevokeReason.LOGOUT
    )
    page = staff.get("/admin/accounts/session/", {"revoked_reason__exact": "logout"})
    assert [s.pk for s in page.context["cl"].result_list] == [session.pk]


def _indexes(table: str) -> set[str]:
    with connection.cursor() as cursor:
        return {
            name
            for name, info in connection.introspection.get_constraints(cursor, table).items()
            if info["index"]
        }


TRIGRAM = {"accounts_user_username_trgm", "accounts_user_email_trgm", "accounts_user_full_name_trgm"}
SESSION = {"accounts_session_created_idx", "accounts_session_ip_idx", "accounts_session_reason_idx"}


@pytest.mark.django_db(transaction=True)
def test_the_search_index_migration_applies_and_reverses_on_this_database():
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes("accounts")
    postgres = connection.vendor == "postgresql"
    assert SESSION <= _indexes("accounts_session")
    assert (TRIGRAM <= _indexes("accounts_user")) is postgres  # SQLite: no pg_trgm, no such index
    executor.migrate([("accounts", "0010_known_login_address")])
    try:
        assert not SESSION & _indexes("accounts_session")
        assert not TRIGRAM & _indexes("accounts_user")
    finally:
        MigrationExecutor(connection).migrate(latest)
    assert SESSION <= _indexes("accounts_session")
    assert (TRIGRAM <= _indexes("accounts_user")) is postgres


def test_user_search_is_served_by_the_trigram_indexes_on_postgresql(user):
    """The admin's and the admin API's "contains" search compares UPPER(col::text), the
    expression the trigram indexes hold: with sequential scans off the planner uses them."""
    if connection.vendor != "postgresql":
        assert not TRIGRAM & _indexes("accounts_user")  # the SQLite branch: nothing to use
        return
    sql, params = user_list(search="lic").order_by().values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert TRIGRAM <= {name for name in TRIGRAM if name in plan}, plan


def test_deep_pages_fetch_the_keys_first_and_show_the_same_rows_in_order(staff, user, monkeypatch):
    from accounts.admin import SessionAdmin
    from core.pagination import EstimatedCountPaginator

    sessions = old_sessions(user, 7)  # newest first
    monkeypatch.setattr(SessionAdmin, "list_per_page", 3)
    shallow = [s.pk for s in staff.get("/admin/accounts/session/", {"p": 2}).context["cl"].result_list]
    monkeypatch.setattr(EstimatedCountPaginator, "KEYS_FIRST_FROM", 0)  # every page keys-first
    with CaptureQueriesContext(connection) as queries:
        page = staff.get("/admin/accounts/session/", {"p": 2})
    deep = [s.pk for s in page.context["cl"].result_list]
    assert shallow == deep == [s.pk for s in sessions[3:6]]
    assert any('SELECT "accounts_session"."id" AS "pk"' in q["sql"] for q in queries.captured_queries)
    last = staff.get("/admin/accounts/session/", {"p": 3}).context["cl"].result_list
    assert [s.pk for s in last] == [sessions[6].pk]
    assert "alice" in page.content.decode()  # rows still come with their user


# --- The refresh path on a big session table ---------------------------------------------


def test_refresh_finds_the_session_by_its_primary_key_however_many_sessions_its_user_has(user):
    """A user's session index must never serve the refresh: the planner believes a user has
    about one session (the average) and would walk all of theirs, dead row versions included."""
    from accounts.selectors import session_owned

    old_sessions(user, 200)
    session, _ = session_open(user)
    query = session_owned(session_id=session.pk, user_id=user.pk).filter(refresh_jti=session.refresh_jti)
    assert list(query) == [session]
    assert not session_owned(session_id=session.pk, user_id=user.pk + 1).exists()  # someone else's
    if connection.vendor != "postgresql":
        return  # the plan below is PostgreSQL's; on SQLite only the answers above count
    sql, params = query.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE accounts_session")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "accounts_session_pkey" in plan and "accounts_session_user" not in plan, plan


def test_refresh_tokens_have_time_ordered_unique_jtis(user, api_client):
    from accounts.tests.helpers import login

    tokens = login(api_client, "alice")
    jtis = []
    for _ in range(5):
        session = Session.objects.get(user=user)
        jtis.append(session.refresh_jti)
        response = api_client.post(
            "/api/v1/auth/refresh", {"refresh_token": tokens["refresh_token"]}, format="json"
        )
        assert response.status_code == HTTPStatus.OK, response.content
        tokens = response.json()
    assert len(set(jtis)) == 5 and jtis == sorted(jtis)
    assert all(len(j) == 32 and int(j, 16) >= 0 for j in jtis)
    assert all(OutstandingToken.objects.filter(jti=j).exists() for j in jtis)


def test_the_one_statement_refresh_also_finds_the_session_by_its_primary_key(user, api_client):
    """The PostgreSQL rotation statement (accounts.services.sessions._rotation_swap) compares
    the owner the same way: its plan reads the session through the primary key only."""
    from django.test.utils import CaptureQueriesContext

    from accounts.tests.helpers import login

    if connection.vendor != "postgresql":
        return  # the single statement is PostgreSQL's
    old_sessions(user, 200)
    tokens = login(api_client, "alice")
    with CaptureQueriesContext(connection) as queries:
        response = api_client.post(
            "/api/v1/auth/refresh", {"refresh_token": tokens["refresh_token"]}, format="json"
        )
    assert response.status_code == HTTPStatus.OK, response.content
    [swap] = [q["sql"] for q in queries.captured_queries if "WITH swapped AS" in q["sql"]]
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE accounts_session")
        cursor.execute(f"EXPLAIN {swap}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "accounts_session_pkey" in plan and "accounts_session_user" not in plan, plan
