import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.models import User
from accounts.tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def test_create_user_generates_and_prints_a_password_once(run_command):
    output = run_command(
        "create_user",
        "ops",
        "--email",
        "ops@example.com",
        "--role",
        "admin",
        stdin="",
    )
    assert "Created admin ops" in output
    password = output.split("Password (shown once, store it now): ")[1].splitlines()[0].strip()
    assert len(password) >= 32
    assert "log in at /admin/" in output and "scan the QR code on the enrolment page" in output
    user = User.objects.get(username="ops")
    assert user.check_password(password) and user.is_staff and user.password.startswith("argon2$")


def test_create_user_with_password_stdin(run_command):
    output = run_command(
        "create_user",
        "svc",
        "--email",
        "svc@example.com",
        "--role",
        "service_account",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert "Password" not in output.replace("Created", "")
    assert User.objects.get(username="svc").check_password(PASSWORD)


@pytest.mark.parametrize(
    "args,stdin,message",
    [
        (["bad name", "--email", "a@example.com"], "", "username:"),
        (["okname", "--email", "not-an-email"], "", "email:"),
        (["okname", "--email", "a@example.com", "--password-stdin"], "short\n", "password:"),
        (["okname", "--email", "a@example.com", "--password-stdin"], "", "no password on standard input"),
    ],
)
def test_create_user_bad_input_is_a_one_line_command_error(monkeypatch, args, stdin, message):
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    with pytest.raises(CommandError) as excinfo:
        call_command("create_user", *args)
    assert message in str(excinfo.value)
    assert "\n" not in str(excinfo.value)
    assert not User.objects.exists()


def test_create_user_rejects_an_unknown_role(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    with pytest.raises(CommandError, match="invalid choice"):
        call_command("create_user", "x1x", "--email", "x@example.com", "--role", "superuser")
