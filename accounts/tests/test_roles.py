"""accounts.roles: the one role policy everything else asks."""

import pytest

from accounts.roles import Role, Scope, has_staff_access, outranks, rate_for, role_rate_cap, scopes_for


def test_only_an_active_admin_has_staff_access():
    assert has_staff_access(role=Role.ADMIN, is_active=True)
    assert not has_staff_access(role=Role.ADMIN, is_active=False)
    assert not any(has_staff_access(role=role, is_active=True) for role in Role.values if role != Role.ADMIN)


def test_scopes_per_role_admin_has_all_guest_cannot_write_keys_unknown_has_none():
    assert scopes_for(Role.ADMIN) == frozenset(Scope.values)
    assert Scope.KEYS_WRITE not in scopes_for(Role.GUEST)
    assert not scopes_for(Role.USER) & {Scope.ADMIN_READ, Scope.ADMIN_WRITE}
    assert scopes_for("root") == frozenset()


def test_rate_per_role_comes_from_settings_and_an_unknown_role_gets_the_guest_rate(settings):
    settings.RATELIMIT_BY_ROLE = {**settings.RATELIMIT_BY_ROLE, "developer": "7/m", "guest": "3/h"}
    assert rate_for(Role.DEVELOPER) == "7/m" and role_rate_cap(Role.DEVELOPER) == "7/m"
    assert rate_for("root") == "3/h" and role_rate_cap("root") == ""


@pytest.mark.parametrize(
    "new,current,raises",
    [
        (Role.ADMIN, Role.DEVELOPER, True),
        (Role.DEVELOPER, Role.USER, True),
        (Role.SERVICE_ACCOUNT, Role.DEVELOPER, False),
        (Role.GUEST, Role.ADMIN, False),
    ],
)
def test_rank_says_which_moves_raise_power(new, current, raises):
    assert outranks(new, current) is raises
