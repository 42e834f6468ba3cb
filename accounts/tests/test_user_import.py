"""`manage.py import_users FILE`: users moved in from another system, all or nothing."""

import io
import json
from http import HTTPStatus

import bcrypt
import pytest
from django.contrib.auth.hashers import make_password
from django.core.management import call_command
from django.core.management.base import CommandError
from rest_framework.test import APIClient

from accounts.models import User
from accounts.tests.factories import UserFactory
from audit.models import AuditEvent

pytestmark = pytest.mark.django_db
OLD_PASSWORD = "an old password from the flask app"


def bcrypt_hash(password: str, prefix: str = "2b") -> str:
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4, prefix=b"2b")).decode()
    return hashed.replace("$2b$", f"${prefix}$", 1)


def jsonl(tmp_path, *records, raw: str = "") -> str:
    path = tmp_path / "users.jsonl"
    lines = [json.dumps(record) for record in records]
    path.write_text("\n".join(lines) + "\n" + raw, encoding="utf-8")
    return str(path)


def run(*args) -> str:
    out = io.StringIO()
    call_command("import_users", *args, stdout=out)
    return out.getvalue()


def login(username: str, password: str):
    return APIClient().post("/api/v1/auth/login", {"username": username, "password": password}, format="json")


def test_imports_every_line_and_prints_the_counts(tmp_path):
    path = jsonl(
        tmp_path,
        {
            "username": "ann",
            "email": "ann@example.com",
            "full_name": "Ann A",
            "password_hash": bcrypt_hash("x" * 12),
        },
        {
            "username": "ben",
            "email": "ben@example.com",
            "role": "developer",
            "password_hash": make_password("p" * 14),
        },
        {"username": "cat", "email": "cat@example.com"},
    )
    out = run(path)
    assert out.strip() == (
        "Created 3 users: 2 with a password, 1 without (they set one through password reset)."
    )
    ann, ben, cat = (User.objects.get(username=n) for n in ("ann", "ben", "cat"))
    assert ann.full_name == "Ann A" and ann.role == "user" and ann.password.startswith("bcrypt$$2b$04$")
    assert ben.role == "developer" and ben.password.startswith("argon2$")
    assert not cat.has_usable_password()


def test_each_imported_user_is_one_audited_operator_event(tmp_path):
    path = jsonl(
        tmp_path,
        {"username": "ann", "email": "ann@example.com", "password_hash": bcrypt_hash("x" * 12)},
        {"username": "ben", "email": "ben@example.com"},
    )
    run(path)
    events = list(AuditEvent.objects.filter(event="user.created").order_by("seq"))
    assert [e.target_label for e in events] == ["ann", "ben"]
    for event in events:
        assert event.actor_kind == "operator" and "manage.py import_users" in event.actor_label
        assert event.details == {"role": "user", "imported": True}
    assert "$2b$" not in json.dumps([e.details for e in events])


def test_a_bcrypt_user_logs_in_with_the_old_password_and_the_hash_becomes_argon2(tmp_path):
    run(
        jsonl(
            tmp_path,
            {"username": "ann", "email": "ann@example.com", "password_hash": bcrypt_hash(OLD_PASSWORD)},
        )
    )
    assert login("ann", "not the old password").status_code == HTTPStatus.UNAUTHORIZED
    assert User.objects.get(username="ann").password.startswith("bcrypt$")
    first = login("ann", OLD_PASSWORD)
    assert first.status_code == HTTPStatus.OK, first.content
    upgraded = User.objects.get(username="ann")
    assert upgraded.password.startswith("argon2$") and upgraded.last_login is not None
    # The login's conditional UPDATE matched the upgraded hash, and the new hash works.
    assert login("ann", OLD_PASSWORD).status_code == HTTPStatus.OK
    access = first.json()["access_token"]
    me = APIClient()
    me.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    assert me.get("/api/v1/auth/me").json()["username"] == "ann"


@pytest.mark.parametrize("prefix", ["2a", "2y"])
def test_2a_and_2y_bcrypt_hashes_work_too(tmp_path, prefix):
    run(
        jsonl(
            tmp_path,
            {
                "username": "ann",
                "email": "ann@example.com",
                "password_hash": bcrypt_hash(OLD_PASSWORD, prefix),
            },
        )
    )
    assert User.objects.get(username="ann").password.startswith(f"bcrypt$${prefix}$")
    assert login("ann", OLD_PASSWORD).status_code == HTTPStatus.OK
    assert User.objects.get(username="ann").password.startswith("argon2$")


def test_a_password_longer_than_bcrypts_72_bytes_is_a_clean_401_not_a_500(tmp_path):
    run(
        jsonl(
            tmp_path,
            {"username": "ann", "email": "ann@example.com", "password_hash": bcrypt_hash(OLD_PASSWORD)},
        )
    )
    assert login("ann", "y" * 200).status_code == HTTPStatus.UNAUTHORIZED


def test_a_user_without_a_hash_cannot_log_in_until_they_reset(tmp_path):
    run(jsonl(tmp_path, {"username": "cat", "email": "cat@example.com"}))
    assert login("cat", "").status_code in (HTTPStatus.BAD_REQUEST, HTTPStatus.UNAUTHORIZED)
    assert login("cat", OLD_PASSWORD).status_code == HTTPStatus.UNAUTHORIZED
    response = APIClient().post("/api/v1/auth/password-reset", {"email": "cat@example.com"}, format="json")
    assert response.status_code == HTTPStatus.ACCEPTED


GOOD = {"username": "ann", "email": "ann@example.com"}


@pytest.mark.parametrize(
    ("lines", "problem"),
    [
        (["{not json"], "line 1: not a JSON object"),
        (['["ann"]'], "line 1: not a JSON object"),
        ([{"username": "ann"}], "line 1: email is required"),
        ([{"email": "ann@example.com"}], "line 1: username is required"),
        ([{**GOOD, "username": " "}], "line 1: username is required"),
        ([{**GOOD, "username": 7}], "line 1: username must be a string"),
        (
            [{**GOOD, "username": "a b"}],
            "line 1: username 'a b' is not valid (letters, digits and @ . + - _ only)",
        ),
        ([{**GOOD, "username": "a" * 151}], "line 1: username is longer than 150 characters"),
        ([{**GOOD, "email": "not-an-address"}], "line 1: email 'not-an-address' is not a valid address"),
        (
            [{**GOOD, "role": "superuser"}],
            "line 1: role 'superuser' is not one of admin, developer, user, guest, service_account",
        ),
        ([{**GOOD, "password": "plain"}], "line 1: unknown field(s): 'password'"),
        ([{**GOOD, "password_hash": ""}], "line 1: password_hash is not a recognised hash"),
        ([{**GOOD, "password_hash": "md5$abc$def"}], "line 1: password_hash is not a recognised hash"),
        (
            [{**GOOD, "password_hash": "5f4dcc3b5aa765d61d8327deb882cf99"}],
            "line 1: password_hash is not a recognised hash",
        ),
        ([{**GOOD, "password_hash": "$2b$04$tooshort"}], "line 1: password_hash is not a recognised hash"),
        ([{**GOOD, "password_hash": "!unusable"}], "line 1: password_hash is not a recognised hash"),
        ([{**GOOD, "password_hash": 12}], "line 1: password_hash is not a recognised hash"),
        (
            [GOOD, {"username": "ANN", "email": "other@example.com"}],
            "line 2: username 'ann' is already on line 1",
        ),
        (
            [GOOD, {"username": "bob", "email": "Ann@Example.com"}],
            "line 2: email 'ann@example.com' is already on line 1",
        ),
    ],
)
def test_each_bad_line_is_named_with_its_problem(tmp_path, lines, problem):
    path = tmp_path / "users.jsonl"
    path.write_text(
        "\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n", encoding="utf-8"
    )
    with pytest.raises(CommandError) as caught:
        run(str(path))
    message = str(caught.value)
    assert message.startswith(f"{path}, {problem}") and message.endswith("; nothing was imported")
    assert "\n" not in message
    assert User.objects.count() == 0


def test_a_bad_line_after_good_ones_writes_nothing(tmp_path):
    path = jsonl(
        tmp_path,
        GOOD,
        {"username": "ben", "email": "ben@example.com", "password_hash": bcrypt_hash("x" * 12)},
        {"username": "cat", "email": "cat@example.com", "role": "root"},
    )
    users_before, events_before = User.objects.count(), AuditEvent.objects.count()
    with pytest.raises(CommandError, match=r"line 3: role 'root' is not one of"):
        run(path)
    assert User.objects.count() == users_before and AuditEvent.objects.count() == events_before


def test_a_hash_of_a_hasher_not_configured_is_refused_and_never_echoed(tmp_path):
    pbkdf2 = "pbkdf2_sha256$600000$salt$" + "A" * 43 + "="
    with pytest.raises(CommandError) as caught:
        run(jsonl(tmp_path, {**GOOD, "password_hash": pbkdf2}))
    assert "line 1: password_hash is not a recognised hash" in str(caught.value)
    assert "salt" not in str(caught.value)


def test_a_name_or_address_already_taken_refuses_the_whole_file(tmp_path):
    UserFactory(username="zed", email="zed@example.com")
    path = jsonl(tmp_path, GOOD, {"username": "Zed", "email": "new@example.com"})
    with pytest.raises(CommandError, match=r"line 2: username 'Zed' is already taken by an existing user"):
        run(path)
    path = jsonl(tmp_path, GOOD, {"username": "new", "email": "ZED@example.com"})
    with pytest.raises(
        CommandError, match=r"line 2: email 'ZED@example.com' is already taken by an existing user"
    ):
        run(path)
    assert not User.objects.filter(username="ann").exists()


def test_blank_lines_are_skipped_but_still_counted(tmp_path):
    path = tmp_path / "users.jsonl"
    path.write_text(
        json.dumps(GOOD) + "\n\n" + '{"username": "b b", "email": "b@example.com"}\n', encoding="utf-8"
    )
    with pytest.raises(CommandError, match=r"line 3: username 'b b'"):
        run(str(path))


def test_a_missing_file_an_empty_file_and_a_dry_run(tmp_path):
    with pytest.raises(CommandError, match=r"cannot read .*nope.jsonl"):
        run(str(tmp_path / "nope.jsonl"))
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n", encoding="utf-8")
    with pytest.raises(CommandError, match=r"has no users"):
        run(str(empty))
    out = run(
        jsonl(
            tmp_path, GOOD, {"username": "bob", "email": "b@example.com", "password_hash": bcrypt_hash("x")}
        ),
        "--dry-run",
    )
    assert out.strip() == "Dry run: 2 users would be created (1 with a password, 1 without)."
    assert not User.objects.filter(username__in=["ann", "bob"]).exists()


def test_a_json_string_with_a_unicode_line_separator_stays_one_line(tmp_path):
    path = tmp_path / "users.jsonl"
    path.write_text(
        json.dumps({**GOOD, "full_name": "Ann\u2028Line"}, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    run(str(path))
    assert User.objects.get(username="ann").full_name == "Ann\u2028Line"
