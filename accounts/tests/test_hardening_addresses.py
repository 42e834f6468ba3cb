"""Issue 12 (hardening), client addresses: IPv6 prefixes, IPv4-mapped addresses, proxies that
write ports, and the per-account lock against address rotation. Through the API."""

import io
from datetime import timedelta
from http import HTTPStatus

import pytest
from axes.models import AccessAttempt
from django.core.management import call_command
from django.utils import timezone

from accounts.errors import ACCOUNT_LOCKED
from accounts.models import KnownLoginAddress, Session
from accounts.tests.factories import PASSWORD, UserFactory
from audit.models import AuditEvent

pytestmark = pytest.mark.django_db
WRONG = "definitely not the password"
LOCKED = {"detail": ACCOUNT_LOCKED, "code": "account_locked"}


def attempt(client, username, password=WRONG, ip="198.51.100.1", **extra):
    return client.post(
        "/api/v1/auth/login",
        {"username": username, "password": password},
        format="json",
        REMOTE_ADDR=ip,
        **extra,
    )


def events(name: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(event=name).order_by("seq"))


def audit_verify_exit_code() -> int:
    try:
        call_command("audit_verify", stdout=io.StringIO())
    except SystemExit as exc:
        return int(exc.code or 0)
    except Exception:
        return 1
    return 0


@pytest.fixture(autouse=True)
def _roomy_auth_rate(settings):
    # These tests count lockouts; the rate-limit tests set their own.
    settings.RATELIMIT_AUTH = "1000/m"


# --- 1. IPv6 rotation ----------------------------------------------------------------------


def test_ipv6_rotation_within_a_64_does_not_defeat_the_lockout(api_client, user):
    codes = [attempt(api_client, "alice", ip=f"2001:db8:1:2::{i:x}").status_code for i in range(1, 6)]
    assert codes == [HTTPStatus.UNAUTHORIZED] * 4 + [HTTPStatus.TOO_MANY_REQUESTS]
    sixth = attempt(api_client, "alice", PASSWORD, ip="2001:db8:1:2:ffff:ffff:ffff:fffe")
    assert sixth.status_code == HTTPStatus.TOO_MANY_REQUESTS and sixth.json() == LOCKED
    # Another /64 is another client: the owner there is not locked out.
    assert attempt(api_client, "alice", PASSWORD, ip="2001:db8:1:3::1").status_code == HTTPStatus.OK


def test_ipv6_rotation_within_a_64_is_one_client_for_the_ip_lock(api_client, user, settings):
    settings.AXES_IP_FAILURE_LIMIT = 6
    for i in range(1, 6):
        assert attempt(api_client, f"name{i}", ip=f"2001:db8:9:9::{i}").status_code == HTTPStatus.UNAUTHORIZED
    assert attempt(api_client, "name6", ip="2001:db8:9:9::6").status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert attempt(api_client, "alice", PASSWORD, ip="2001:db8:9:9::77").status_code == 429


def test_ipv6_rotation_within_a_64_shares_one_per_ip_rate_limit(api_client, settings):
    settings.RATELIMIT_AUTH = "3/m"

    def register(ip: str) -> int:
        return api_client.post("/api/v1/auth/register", {}, format="json", REMOTE_ADDR=ip).status_code

    assert [register(f"2001:db8:5:6::{i}") for i in range(1, 5)] == [400, 400, 400, 429]
    assert register("2001:db8:5:7::1") == HTTPStatus.BAD_REQUEST  # the next /64 over


def test_ipv6_prefix_length_is_configurable(api_client, user, settings):
    settings.IPV6_PREFIX_LENGTH = 48
    for i in range(4):
        attempt(api_client, "alice", ip=f"2001:db8:7:{i}::1")
    assert attempt(api_client, "alice", ip="2001:db8:7:ffff::1").status_code == HTTPStatus.TOO_MANY_REQUESTS


def test_audit_and_sessions_keep_the_full_ipv6_address_while_lockout_counts_the_prefix(api_client, user):
    attempt(api_client, "alice", ip="2001:db8:1:2:aaaa:bbbb:cccc:dddd")
    assert list(AccessAttempt.objects.values_list("ip_address", flat=True)) == ["2001:db8:1:2::"]
    assert events("auth.login_failed")[0].ip_address == "2001:db8:1:2:aaaa:bbbb:cccc:dddd"
    assert attempt(api_client, "alice", PASSWORD, ip="2001:db8:1:2:aaaa:bbbb:cccc:eeee").status_code == 200
    assert Session.objects.get().ip_address == "2001:db8:1:2:aaaa:bbbb:cccc:eeee"
    assert events("auth.login_succeeded")[0].ip_address == "2001:db8:1:2:aaaa:bbbb:cccc:eeee"
    # A success clears the failures of its prefix, as axes counts it.
    assert not AccessAttempt.objects.exists()


# --- 1. Per-account protection across addresses ----------------------------------------------


def test_account_attacked_from_many_addresses_refuses_new_addresses_but_not_known_ones(
    api_client, user, settings
):
    assert settings.AXES_ACCOUNT_FAILURE_LIMIT == 20
    assert attempt(api_client, "alice", PASSWORD, ip="203.0.113.10").status_code == HTTPStatus.OK  # known
    assert attempt(api_client, "alice", PASSWORD, ip="2001:db8:aa:bb::1").status_code == HTTPStatus.OK
    codes = [attempt(api_client, "alice", ip=f"198.51.100.{i}").status_code for i in range(1, 21)]
    assert codes == [HTTPStatus.UNAUTHORIZED] * 19 + [HTTPStatus.TOO_MANY_REQUESTS]

    stranger = attempt(api_client, "alice", PASSWORD, ip="192.0.2.77")
    assert stranger.status_code == HTTPStatus.TOO_MANY_REQUESTS and stranger.json() == LOCKED
    assert 1700 < int(stranger["Retry-After"]) <= 1801
    refused = events("auth.login_failed")[-1]
    assert refused.details["reason"] == "account_locked" and refused.details["lock"] == "account"
    assert refused.ip_address == "192.0.2.77"

    # The owner's addresses still work: an IPv4 one and another address in a known /64.
    assert attempt(api_client, "alice", PASSWORD, ip="203.0.113.10").status_code == HTTPStatus.OK
    assert attempt(api_client, "alice", PASSWORD, ip="2001:db8:aa:bb::99").status_code == HTTPStatus.OK
    locked = events("auth.locked_out")
    assert [(e.details["lock"], e.target_user_id) for e in locked] == [("account", user.pk)]

    # Unlocking clears it for everyone.
    call_command("unlock_user", "alice", stdout=io.StringIO())
    assert attempt(api_client, "alice", PASSWORD, ip="192.0.2.77").status_code == HTTPStatus.OK


def test_an_address_unused_past_the_retention_is_forgotten_by_cleanup_and_no_longer_known(
    api_client, user, settings
):
    settings.AXES_ACCOUNT_FAILURE_LIMIT = 6
    settings.KNOWN_ADDRESS_RETENTION_DAYS = 180
    for ip in ("203.0.113.10", "203.0.113.20"):
        assert attempt(api_client, "alice", PASSWORD, ip=ip).status_code == HTTPStatus.OK
    # 203.0.113.10 was last used 181 days ago, 203.0.113.20 179 days ago.
    now = timezone.now()
    KnownLoginAddress.objects.filter(ip_bucket="203.0.113.10").update(last_seen=now - timedelta(days=181))
    KnownLoginAddress.objects.filter(ip_bucket="203.0.113.20").update(last_seen=now - timedelta(days=179))

    out = io.StringIO()
    call_command("auth_cleanup", stdout=out)
    assert "known_addresses: removed 1" in out.getvalue()
    assert list(KnownLoginAddress.objects.values_list("ip_bucket", flat=True)) == ["203.0.113.20"]

    codes = [attempt(api_client, "alice", ip=f"198.51.100.{i}").status_code for i in range(1, 7)]
    assert codes[-1] == HTTPStatus.TOO_MANY_REQUESTS  # the account is under attack
    forgotten = attempt(api_client, "alice", PASSWORD, ip="203.0.113.10")
    assert forgotten.status_code == HTTPStatus.TOO_MANY_REQUESTS and forgotten.json() == LOCKED
    assert attempt(api_client, "alice", PASSWORD, ip="203.0.113.20").status_code == HTTPStatus.OK


def test_account_lock_answers_unknown_names_like_real_ones(api_client, user, settings):
    settings.AXES_ACCOUNT_FAILURE_LIMIT = 6
    for name in ("alice", "ghost"):
        codes = [attempt(api_client, name, ip=f"198.51.100.{i}").status_code for i in range(1, 7)]
        assert codes == [HTTPStatus.UNAUTHORIZED] * 5 + [HTTPStatus.TOO_MANY_REQUESTS]
    assert (
        attempt(api_client, "alice", ip="192.0.2.1").json()
        == attempt(api_client, "ghost", ip="192.0.2.2").json()
    )


# --- 3. IPv4-mapped addresses and the audit chain ----------------------------------------


@pytest.mark.parametrize(
    ("remote_addr", "stored"),
    [
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("::FFFF:cb00:7107", "203.0.113.7"),
        ("2001:DB8:0:0::1", "2001:db8::1"),
        ("fe80::1%eth0", "fe80::1"),
    ],
)
def test_ipv4_mapped_and_other_spellings_are_canonical_and_the_audit_chain_verifies(
    api_client, user, remote_addr, stored
):
    assert attempt(api_client, "alice", PASSWORD, ip=remote_addr).status_code == HTTPStatus.OK
    attempt(api_client, "alice", WRONG, ip=remote_addr)
    assert {e.ip_address for e in AuditEvent.objects.filter(event__startswith="auth.")} == {stored}
    assert Session.objects.get().ip_address == stored
    assert audit_verify_exit_code() == 0


def test_audit_chain_verifies_for_an_address_the_database_spells_differently(user):
    """IPv4-compatible IPv6 (`::1.2.3.4`): Python writes `::102:304`, PostgreSQL's inet prints
    `::1.2.3.4`; the hash covers the address, so both verify."""
    from audit.services import audit_record
    from core.request import RequestMeta

    audit_record(event="auth.login_failed", meta=RequestMeta(ip_address="::1.2.3.4"), outcome="failure")
    assert audit_verify_exit_code() == 0


# --- 13. Proxies that write ports into X-Forwarded-For --------------------------------------


@pytest.mark.parametrize(
    ("hop", "client"),
    [
        ("203.0.113.7:4711", "203.0.113.7"),
        ("[2001:db8::7]:443", "2001:db8::7"),
        ("[2001:db8::7]", "2001:db8::7"),
        ("2001:db8::7", "2001:db8::7"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        (" 203.0.113.7 ", "203.0.113.7"),
    ],
)
def test_forwarded_for_with_a_port_or_brackets_names_the_client_not_the_proxy(
    api_client, settings, hop, client
):
    settings.TRUSTED_PROXY_COUNT = 1
    api_client.post(
        "/api/v1/auth/register",
        {"username": "erin", "email": "erin@example.com", "password": "correct horse battery staple"},
        format="json",
        REMOTE_ADDR="10.0.0.1",
        HTTP_X_FORWARDED_FOR=f"6.6.6.6, {hop}",
    )
    assert events("user.registered")[0].ip_address == client


@pytest.mark.parametrize("hop", ["203.0.113.7:http", "[2001:db8::7]x", "[2001:db8::7", "not-an-ip:80"])
def test_forwarded_for_garbage_falls_back_to_the_proxy_address(api_client, settings, hop):
    settings.TRUSTED_PROXY_COUNT = 1
    api_client.post(
        "/api/v1/auth/login",
        {"username": "x", "password": "y"},
        format="json",
        REMOTE_ADDR="10.0.0.1",
        HTTP_X_FORWARDED_FOR=hop,
    )
    assert events("auth.login_failed")[0].ip_address == "10.0.0.1"


# --- 14. Lockout audit accuracy ----------------------------------------------------------------


def test_ip_lock_is_audited_as_an_ip_lock_exactly_once(api_client, user, settings):
    assert settings.AXES_IP_FAILURE_LIMIT == 20
    codes = [attempt(api_client, f"victim{i}", ip="198.51.100.9").status_code for i in range(24)]
    assert codes == [HTTPStatus.UNAUTHORIZED] * 19 + [HTTPStatus.TOO_MANY_REQUESTS] * 5
    locked = events("auth.locked_out")
    assert len(locked) == 1
    assert locked[0].details["lock"] == "ip" and locked[0].details["failures"] == 20
    refused = events("auth.login_failed")[-1]
    assert refused.details["reason"] == "account_locked" and refused.details["lock"] == "ip"


def test_pair_lock_is_audited_as_a_pair_lock(api_client, user):
    for _ in range(6):
        attempt(api_client, "alice")
    [locked] = events("auth.locked_out")
    assert locked.details["lock"] == "pair" and locked.target_user_id == user.pk
    assert events("auth.login_failed")[-1].details["lock"] == "pair"


def test_failures_that_jump_past_the_limit_still_write_exactly_one_locked_out(api_client, user):
    """Two concurrent failures can both see limit+1 (neither sees exactly the limit): here the
    count jumps from 4 to 6 at once, as axes' rows per user agent add up."""
    for _ in range(4):
        attempt(api_client, "alice", HTTP_USER_AGENT="one")
    AccessAttempt.objects.filter(username="alice").update(failures_since_start=6)
    attempt(api_client, "alice", HTTP_USER_AGENT="two")
    attempt(api_client, "alice", HTTP_USER_AGENT="three")
    assert len(events("auth.locked_out")) == 1


def test_a_lockout_after_an_unlock_is_audited_again(api_client, user):
    for _ in range(5):
        attempt(api_client, "alice")
    call_command("unlock_user", "alice", stdout=io.StringIO())
    for _ in range(5):
        attempt(api_client, "alice")
    assert len(events("auth.locked_out")) == 2


def test_user_list_reports_an_account_lock(api_client, user, settings, admin_user):
    from accounts.selectors import user_is_locked

    settings.AXES_ACCOUNT_FAILURE_LIMIT = 3
    for i in range(3):
        attempt(api_client, "alice", ip=f"198.51.100.{i}")
    assert user_is_locked(user=user)
    assert UserFactory(username="bob", email="bob@example.com") and not user_is_locked(
        user=user.__class__.objects.get(username="bob")
    )
