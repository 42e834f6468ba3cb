"""Operations: /metrics, the security counters, the request log and the liveness probe."""

import io
import json
import logging
import re
from http import HTTPStatus

import pytest
from django.core import mail
from django.db import connection, transaction
from django.test import Client
from prometheus_client import REGISTRY
from rest_framework.test import APIClient

from accounts.tests.factories import PASSWORD
from accounts.tests.helpers import bearer_client, login
from audit.hooks import audit_listener_add, audit_listener_remove
from audit.middleware import RequestIdLogFilter
from audit.models import AuditEvent, Event
from audit.services import audit_record
from config.observability.logformat import (
    ConsoleHandler,
    GatehouseJsonFormatter,
    request_line,
    request_line_handler,
)
from config.observability.middleware import request_record, route_template
from tests.test_settings_profiles import PRODUCTION_ENV, manage

pytestmark = pytest.mark.django_db

METRICS_TOKEN = "metrics-token-for-the-tests-0123456789"


def sample(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


class Counts:
    """Counter values now, to compare with after (counters in a test process only grow)."""

    def __init__(self, *series: tuple):
        self.series = series
        self.before = [sample(name, **labels) for name, labels in series]

    def delta(self) -> list[float]:
        return [
            sample(name, **labels) - b for (name, labels), b in zip(self.series, self.before, strict=True)
        ]


def wrong_login(client: APIClient, username: str):
    return client.post(
        "/api/v1/auth/login", {"username": username, "password": "not the password"}, format="json"
    )


# --- /metrics -------------------------------------------------------------------------


def test_metrics_is_not_found_while_no_token_is_configured(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == HTTPStatus.NOT_FOUND
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == HTTPStatus.NOT_FOUND


@pytest.mark.parametrize(
    "header", [None, "", "Bearer", "Bearer wrong-token", f"Basic {METRICS_TOKEN}", f"Bearer {METRICS_TOKEN}x"]
)
def test_metrics_without_the_right_bearer_token_is_401(client, settings, header):
    settings.METRICS_TOKEN = METRICS_TOKEN
    extra = {} if header is None else {"HTTP_AUTHORIZATION": header}
    response = client.get("/metrics", **extra)
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert b"gatehouse_" not in response.content


def test_metrics_with_the_token_is_the_prometheus_text_format(client, settings):
    settings.METRICS_TOKEN = METRICS_TOKEN
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {METRICS_TOKEN}")
    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"].startswith("text/plain; version=")
    assert "no-cache" in response["Cache-Control"]
    body = response.content.decode()
    for name in (
        "gatehouse_logins_total",
        "gatehouse_token_refreshes_total",
        "gatehouse_token_reuse_total",
        "gatehouse_lockouts_total",
        "gatehouse_ratelimited_total",
        "gatehouse_apikey_auth_total",
        "gatehouse_http_request_duration_seconds",
    ):
        assert re.search(rf"^# TYPE {name} (counter|histogram)$", body, re.MULTILINE), name
    assert 'gatehouse_logins_total{outcome="failure"}' in body


# --- Security counters ----------------------------------------------------------------------


def test_logins_and_lockouts_are_counted_by_outcome(api_client, user, django_capture_on_commit_callbacks):
    counts = Counts(
        ("gatehouse_logins_total", {"outcome": "success"}),
        ("gatehouse_logins_total", {"outcome": "failure"}),
        ("gatehouse_logins_total", {"outcome": "locked"}),
        ("gatehouse_lockouts_total", {}),
    )
    with django_capture_on_commit_callbacks(execute=True):
        login(api_client, "alice")
        for _ in range(5):  # AXES_FAILURE_LIMIT: the fifth locks the pair
            assert wrong_login(api_client, "alice").status_code in {401, 429}
        assert wrong_login(api_client, "alice").status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert counts.delta() == [1, 5, 1, 1]


def test_counters_move_only_when_the_audit_event_commits(transactional_db):
    seen = []

    def listener(event, outcome, details):
        seen.append(event)

    audit_listener_add(listener)
    try:
        from core.request import SYSTEM

        with pytest.raises(RuntimeError), transaction.atomic():
            audit_record(event=Event.LOGIN_FAILED, meta=SYSTEM, details={"reason": "invalid_credentials"})
            assert seen == []  # not before commit
            raise RuntimeError("roll back")
        assert seen == []
        audit_record(event=Event.LOCKED_OUT, meta=SYSTEM)
        assert seen == [Event.LOCKED_OUT]
    finally:
        audit_listener_remove(listener)


def test_a_failing_listener_never_fails_the_audited_write(transactional_db):
    def broken(event, outcome, details):
        raise ValueError("listener bug")

    audit_listener_add(broken)
    try:
        from core.request import SYSTEM

        audit_record(event=Event.LOCKED_OUT, meta=SYSTEM)
    finally:
        audit_listener_remove(broken)
    assert AuditEvent.objects.filter(event=Event.LOCKED_OUT).count() == 1


def test_refreshes_are_counted_by_outcome_and_reuse_separately(
    api_client, user, django_capture_on_commit_callbacks
):
    counts = Counts(
        ("gatehouse_token_refreshes_total", {"outcome": "success"}),
        ("gatehouse_token_refreshes_total", {"outcome": "reused"}),
        ("gatehouse_token_refreshes_total", {"outcome": "invalid"}),
        ("gatehouse_token_refreshes_total", {"outcome": "revoked"}),
        ("gatehouse_token_reuse_total", {}),
    )
    with django_capture_on_commit_callbacks(execute=True):
        first = login(api_client, "alice")["refresh_token"]
        ok = api_client.post("/api/v1/auth/refresh", {"refresh_token": first}, format="json")
        assert ok.status_code == HTTPStatus.OK
        reused = api_client.post("/api/v1/auth/refresh", {"refresh_token": first}, format="json")
        assert reused.json()["code"] == "token_reused"
        # The session is gone: its newest token is now revoked, not reused.
        revoked = api_client.post(
            "/api/v1/auth/refresh", {"refresh_token": ok.json()["refresh_token"]}, format="json"
        )
        assert revoked.json()["code"] == "token_revoked"
        garbage = api_client.post("/api/v1/auth/refresh", {"refresh_token": "not.a.jwt"}, format="json")
        assert garbage.status_code == HTTPStatus.UNAUTHORIZED
    assert counts.delta() == [1, 1, 1, 1, 1]


def test_every_ratelimited_request_is_counted_though_audited_once_per_window(
    api_client, settings, django_capture_on_commit_callbacks
):
    settings.RATELIMIT_AUTH = "2/m"
    counts = Counts(("gatehouse_ratelimited_total", {"scope": "ip:login"}))
    with django_capture_on_commit_callbacks(execute=True):
        statuses = [wrong_login(api_client, f"nobody{i}").status_code for i in range(5)]
    assert statuses.count(HTTPStatus.TOO_MANY_REQUESTS) == 3
    assert counts.delta() == [3]
    assert AuditEvent.objects.filter(event=Event.RATELIMIT_EXCEEDED).count() == 1


def test_api_key_authentications_are_counted_by_outcome(auth_client, django_capture_on_commit_callbacks):
    key = auth_client.post(
        "/api/v1/api-keys", {"name": "bot", "scopes": ["profile:read"]}, format="json"
    ).json()
    counts = Counts(
        ("gatehouse_apikey_auth_total", {"outcome": "success"}),
        ("gatehouse_apikey_auth_total", {"outcome": "invalid"}),
        ("gatehouse_apikey_auth_total", {"outcome": "revoked"}),
    )
    client = APIClient()
    assert client.get("/api/v1/auth/me", HTTP_X_API_KEY=key["key"]).status_code == HTTPStatus.OK
    assert (
        client.get("/api/v1/auth/me", HTTP_X_API_KEY=key["key"] + "x").status_code == HTTPStatus.UNAUTHORIZED
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert auth_client.delete(f"/api/v1/api-keys/{key['id']}").status_code == HTTPStatus.NO_CONTENT
    assert client.get("/api/v1/auth/me", HTTP_X_API_KEY=key["key"]).status_code == HTTPStatus.UNAUTHORIZED
    assert counts.delta() == [1, 1, 1]


# --- Request duration -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "route,template",
    [
        ("api/v1/auth/me/?$", "/api/v1/auth/me"),
        (
            "api/v1/auth/sessions/(?P<session_id>[0-9a-fA-F]{8}-[0-9a-fA-F]{4})/?$",
            "/api/v1/auth/sessions/<session_id>",
        ),
        ("admin/accounts/user/<path:object_id>/change/", "/admin/accounts/user/<object_id>/change/"),
        ("reset-password/<uidb64>/<token>/", "/reset-password/<uidb64>/<token>/"),
        ("admin/(?P<app_label>audit|accounts)/$", "/admin/<app_label>/"),
        ("^api/", "/api/*"),
        ("admin/(?P<url>.*)$", "/admin/<url>"),
    ],
)
def test_route_templates_name_the_pattern_not_the_path(route, template):
    assert route_template(route) == template


def test_request_durations_are_labelled_by_route_template_method_and_status_class(
    auth_client, user, settings
):
    settings.METRICS_TOKEN = METRICS_TOKEN
    session_id = auth_client.get("/api/v1/auth/sessions").json()[0]["id"]
    histogram = "gatehouse_http_request_duration_seconds_count"
    route = "/api/v1/auth/sessions/<session_id>"
    before = sample(histogram, route=route, method="DELETE", status="2xx")
    before_404 = sample(histogram, route="<unmatched>", method="OTHER", status="4xx")
    assert auth_client.delete(f"/api/v1/auth/sessions/{session_id}").status_code == HTTPStatus.NO_CONTENT
    assert auth_client.generic("BREW", "/no/such/page").status_code == HTTPStatus.NOT_FOUND
    assert sample(histogram, route=route, method="DELETE", status="2xx") == before + 1
    assert sample(histogram, route="<unmatched>", method="OTHER", status="4xx") == before_404 + 1
    body = APIClient().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {METRICS_TOKEN}").content.decode()
    assert session_id not in body
    assert "/no/such/page" not in body
    assert "BREW" not in body
    assert "alice" not in body


# --- Liveness ---------------------------------------------------------------------------------


def test_liveness_answers_with_the_database_and_cache_unreachable(
    api_client, settings, monkeypatch, django_assert_num_queries
):
    from django.db.backends.base.base import BaseDatabaseWrapper

    def unreachable(*args, **kwargs):
        raise ConnectionError("the database is unreachable")

    nothing_listens = {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": "redis://127.0.0.1:9/0",
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2},
    }
    settings.CACHES = {"default": nothing_listens, "ratelimit": nothing_listens}
    with django_assert_num_queries(0):
        monkeypatch.setattr(BaseDatabaseWrapper, "ensure_connection", unreachable)
        response = api_client.get("/api/v1/health/live")
        slash = api_client.get("/api/v1/health/live/")
        readiness = api_client.get("/api/v1/health")
        monkeypatch.undo()
    assert response.status_code == slash.status_code == HTTPStatus.OK
    assert response.json() == {"status": "ok"}
    assert response["Cache-Control"] == "no-store"
    # The same process is not ready: the readiness probe sees both dependencies down.
    assert readiness.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert readiness.json() == {"status": "error", "database": "down", "cache": "down"}


def test_liveness_is_exempt_from_the_https_redirect_like_readiness():
    code = (
        "from django.test import Client; c = Client(HTTP_HOST='auth.example.com');"
        "print(c.get('/api/v1/health/live').status_code, c.get('/api/v1/auth/me').status_code)"
    )
    result = manage("shell", "--no-imports", "-c", code, env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["200", "301"]


# --- Logs -------------------------------------------------------------------------------------


@pytest.fixture
def json_log():
    """Every log line of the gatehouse and django loggers (DEBUG and up) as the JSON formatter writes it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(GatehouseJsonFormatter())
    handler.addFilter(RequestIdLogFilter())
    root = logging.getLogger()
    names = ["", "gatehouse", "django", "django.request", "django.db.backends", "axes", "accounts", "apikeys"]
    levels = {name: logging.getLogger(name).level for name in names}
    for name in names:
        logging.getLogger(name).setLevel(logging.DEBUG)
    root.addHandler(handler)
    stream.lines = lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    yield stream
    root.removeHandler(handler)
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def test_request_log_line_has_the_contract_fields(auth_client, user, json_log):
    auth_client.get("/api/v1/auth/me", HTTP_X_REQUEST_ID="req-12345678")
    APIClient().get("/api/v1/auth/me", HTTP_X_REQUEST_ID="req-anonymous")
    lines = [line for line in json_log.lines() if line["logger"] == "gatehouse.request"]
    me, anonymous = lines[-2], lines[-1]
    assert list(me)[:5] == ["timestamp", "level", "logger", "message", "request_id"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+\+00:00", me["timestamp"])
    assert me["level"] == "INFO"
    assert me["message"] == "GET /api/v1/auth/me 200"
    assert me["request_id"] == "req-12345678"
    assert (me["method"], me["route"], me["status"], me["user_id"]) == (
        "GET",
        "/api/v1/auth/me",
        200,
        user.pk,
    )
    assert isinstance(me["duration_ms"], float)
    assert (anonymous["status"], anonymous["user_id"], anonymous["request_id"]) == (
        401,
        None,
        "req-anonymous",
    )


def shipped_console(stream) -> ConsoleHandler:
    """The console as production's LOGGING makes it (config.observability.logformat)."""
    handler = ConsoleHandler(stream)
    handler.setFormatter(GatehouseJsonFormatter())
    handler.addFilter(RequestIdLogFilter())
    return handler


@pytest.fixture
def console_only():
    """Makes the gatehouse loggers write to the shipped console alone, when the test calls it:
    pytest puts its own capture handlers on the root and every non-propagating logger as the
    test's call starts, after the fixtures, so this is installed in the test's body."""
    gatehouse = logging.getLogger("gatehouse")
    saved = gatehouse.handlers, gatehouse.propagate, gatehouse.level
    stream = io.StringIO()
    stream.handler = shipped_console(stream)
    stream.lines = lambda: [json.loads(line) for line in stream.getvalue().splitlines()]

    def install():
        gatehouse.handlers = [stream.handler]
        gatehouse.propagate = False
        gatehouse.setLevel(logging.INFO)
        return stream

    yield install
    gatehouse.handlers, gatehouse.propagate = saved[0], saved[1]
    gatehouse.setLevel(saved[2])


def test_with_the_shipped_console_request_lines_are_written_without_a_log_record(
    auth_client, user, console_only, monkeypatch
):
    console = console_only()
    made = []
    real = logging.Logger.makeRecord
    monkeypatch.setattr(
        logging.Logger, "makeRecord", lambda self, *a, **kw: made.append(self.name) or real(self, *a, **kw)
    )
    request_logger = logging.getLogger("gatehouse.request")
    assert request_line_handler(request_logger) is console.handler
    auth_client.get("/api/v1/auth/me", HTTP_X_REQUEST_ID="req-direct-01")
    APIClient().get("/api/v1/nowhere", HTTP_X_REQUEST_ID="req-direct-02")
    assert "gatehouse.request" not in made
    me, missing = console.lines()
    assert list(me) == [
        "timestamp",
        "level",
        "logger",
        "message",
        "request_id",
        "method",
        "route",
        "status",
        "duration_ms",
        "user_id",
    ]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+\+00:00", me["timestamp"])
    assert {k: v for k, v in me.items() if k not in ("timestamp", "duration_ms")} == {
        "level": "INFO",
        "logger": "gatehouse.request",
        "message": "GET /api/v1/auth/me 200",
        "request_id": "req-direct-01",
        "method": "GET",
        "route": "/api/v1/auth/me",
        "status": 200,
        "user_id": user.pk,
    }
    assert isinstance(me["duration_ms"], float)
    assert (missing["route"], missing["status"], missing["user_id"], missing["request_id"]) == (
        "/api/*",  # the API's catch-all answers JSON 404s
        404,
        None,
        "req-direct-02",
    )


def _logger_below(root: logging.Logger, name: str = "gatehouse.request") -> logging.Logger:
    logger = logging.Logger(name)
    logger.parent = root
    return logger


def test_the_direct_path_is_taken_only_for_the_shipped_console_alone():
    root = logging.RootLogger(logging.INFO)
    logger = _logger_below(root)
    assert request_line_handler(logger) is None  # no handler at all: logging's last resort
    console = shipped_console(io.StringIO())
    root.addHandler(console)
    assert request_line_handler(logger) is console

    root.addHandler(logging.StreamHandler(io.StringIO()))  # an operator's second handler
    assert request_line_handler(logger) is None
    root.handlers = [console]

    plain = shipped_console(io.StringIO())
    plain.setFormatter(logging.Formatter("%(message)s"))  # LOG_FORMAT=plain
    root.handlers = [plain]
    assert request_line_handler(logger) is None

    prefixed = shipped_console(io.StringIO())
    prefixed.setFormatter(GatehouseJsonFormatter(prefix="gatehouse: "))
    root.handlers = [prefixed]
    assert request_line_handler(logger) is None

    quiet = shipped_console(io.StringIO())
    quiet.setLevel(logging.WARNING)
    root.handlers = [quiet]
    assert request_line_handler(logger) is None

    root.handlers = [console]
    logger.addFilter(lambda record: False)  # a filter decides per record: logging must run it
    assert request_line_handler(logger) is None
    logger.filters.clear()

    own = shipped_console(io.StringIO())
    logger.addHandler(own)
    assert request_line_handler(logger) is None  # two consoles would get the line
    logger.propagate = False
    assert request_line_handler(logger) is own


REQUEST_LINE_CASES = [
    # method, route, status, duration_ms, user_id, request_id
    ("GET", "/api/v1/auth/me", 200, 0.42, 7, "req-12345678"),
    ("POST", "/api/v1/auth/login", 401, 123.0, None, "0123456789abcdef0123456789abcdef"),
    ("OTHER", "<unmatched>", 404, 0.01, None, "-"),
    ("DELETE", "/api/v1/auth/sessions/<session_id>", 204, 1e-05, 2**40, "a.b:c_d-e"),
    ("GET", '/odd "route"\\ é\u2028\n', 200, 17.5, 1, "x" * 64),
]


@pytest.mark.parametrize(
    ("method", "route", "status", "duration_ms", "user_id", "request_id"), REQUEST_LINE_CASES
)
def test_the_direct_request_line_is_exactly_what_the_json_formatter_writes_for_the_record(
    method, route, status, duration_ms, user_id, request_id
):
    record = request_record(logging.INFO, method, route, status, duration_ms, user_id)
    record.request_id = request_id  # what RequestIdLogFilter adds
    direct = request_line(
        created=record.created,
        logger="gatehouse.request",
        request_id=request_id,
        method=method,
        route=route,
        status=status,
        duration_ms=duration_ms,
        user_id=user_id,
    )
    assert direct == GatehouseJsonFormatter().format(record)


def test_a_console_that_cannot_write_does_not_fail_the_request(
    auth_client, console_only, monkeypatch, capsys
):
    def broken(text):
        raise OSError("disk full")

    console = console_only()
    monkeypatch.setattr(console, "write", broken)
    assert auth_client.get("/api/v1/auth/me").status_code == HTTPStatus.OK
    # The direct write failed, so the record went through logging, which reports its own errors.
    assert "--- Logging error ---" in capsys.readouterr().err


def test_other_log_lines_carry_the_request_id(api_client, user, json_log, django_capture_on_commit_callbacks):
    refresh = login(api_client, "alice")["refresh_token"]
    for _ in range(2):  # the second use is reuse, which the service logs as a warning
        api_client.post(
            "/api/v1/auth/refresh", {"refresh_token": refresh}, format="json", HTTP_X_REQUEST_ID="reuse-0001"
        )
    warning = [line for line in json_log.lines() if "reuse detected" in line["message"]]
    assert len(warning) == 1
    assert warning[0]["request_id"] == "reuse-0001"
    assert warning[0]["level"] == "WARNING"


def test_no_password_token_or_key_reaches_any_log_line(
    json_log, django_capture_on_commit_callbacks, settings
):
    settings.RATELIMIT_AUTH = "1000/m"
    connection.force_debug_cursor = True  # SQL with its parameters is logged too
    try:
        client = APIClient()
        new_password = "a brand new passphrase for alice"
        secrets = [PASSWORD, new_password, "a wrong guess at the password"]
        with django_capture_on_commit_callbacks(execute=True):
            registered = client.post(
                "/api/v1/auth/register",
                {"username": "alice", "email": "alice@example.com", "password": PASSWORD},
                format="json",
            )
            assert registered.status_code == HTTPStatus.CREATED
            client.post("/api/v1/auth/login", {"username": "alice", "password": secrets[2]}, format="json")
            tokens = login(client, "alice")
            refreshed = client.post(
                "/api/v1/auth/refresh", {"refresh_token": tokens["refresh_token"]}, format="json"
            )
            assert refreshed.status_code == HTTPStatus.OK
            user_client = bearer_client(refreshed.json()["access_token"])
            key = user_client.post(
                "/api/v1/api-keys", {"name": "bot", "scopes": ["profile:read"]}, format="json"
            )
            assert key.status_code == HTTPStatus.CREATED
            assert (
                APIClient().get("/api/v1/auth/me", HTTP_X_API_KEY=key.json()["key"]).status_code
                == HTTPStatus.OK
            )
            client.post(
                "/api/v1/auth/refresh", {"refresh_token": tokens["refresh_token"]}, format="json"
            )  # reuse
            client.post("/api/v1/auth/password-reset", {"email": "alice@example.com"}, format="json")
        # Not outbox[-1]: the verification and API-key mails are enqueued one on_commit later
        # (mail_send_later from an on_commit callback), so in one captured block they come after it.
        [reset_mail] = [m for m in mail.outbox if "/reset-password/" in m.body]
        link = re.search(r"/reset-password/([^/]+)/([^/]+)/", reset_mail.body)
        uid, reset_token = link.group(1), link.group(2)
        assert (
            Client().get(link.group(0)).status_code == HTTPStatus.FOUND
        )  # the page moves the token out of the URL
        with django_capture_on_commit_callbacks(execute=True):
            confirmed = client.post(
                "/api/v1/auth/password-reset/confirm",
                {"uid": uid, "token": reset_token, "new_password": new_password},
                format="json",
            )
        assert confirmed.status_code == HTTPStatus.NO_CONTENT
        login(client, "alice", new_password)
        secrets += [
            tokens["access_token"],
            tokens["refresh_token"],
            refreshed.json()["access_token"],
            refreshed.json()["refresh_token"],
            key.json()["key"],
            key.json()["key"].rsplit("_", 1)[1],  # the secret part alone
            reset_token,
        ]
    finally:
        connection.force_debug_cursor = False
    text = json_log.getvalue()
    lines = json_log.lines()
    assert sum(line["logger"] == "gatehouse.request" for line in lines) >= 10
    assert any(line["logger"] == "django.db.backends" for line in lines)
    for secret in secrets:
        assert secret not in text, f"a secret ({secret[:6]}…) is in the log"
    # Every line, whatever its logger, carries the id of the request it belongs to.
    request_lines = [line for line in lines if line["logger"] == "gatehouse.request"]
    assert all(line["request_id"] != "-" for line in request_lines)


def test_log_format_is_json_in_production_and_plain_elsewhere():
    show = "from django.conf import settings; print(settings.LOGGING['handlers']['console']['formatter'])"
    assert manage("shell", "--no-imports", "-c", show, env=PRODUCTION_ENV).stdout.strip() == "json"
    assert (
        manage(
            "shell", "--no-imports", "-c", show, env={**PRODUCTION_ENV, "LOG_FORMAT": "plain"}
        ).stdout.strip()
        == "plain"
    )
    assert (
        manage(
            "shell", "--no-imports", "-c", show, env={"DJANGO_SETTINGS_MODULE": "config.settings.local"}
        ).stdout.strip()
        == "plain"
    )
    refused = manage("check", env={"LOG_FORMAT": "xml"})
    assert refused.returncode == 1
    assert refused.stderr.strip() == "error: LOG_FORMAT must be plain or json, not 'xml'"


def test_production_writes_request_lines_straight_to_its_console():
    code = (
        "import logging; from django.test import Client\n"
        "made = []\n"
        "real = logging.Logger.makeRecord\n"
        "logging.Logger.makeRecord = lambda self, *a, **kw: made.append(self.name) or real(self, *a, **kw)\n"
        "answer = Client().get('/api/v1/', HTTP_HOST='auth.example.com', HTTP_X_REQUEST_ID='req-production-1',"
        " secure=True)\n"
        "print(answer.status_code, 'gatehouse.request' in made)"
    )
    result = manage("shell", "--no-imports", "-c", code, env=PRODUCTION_ENV)
    assert result.stdout.split() == ["200", "False"], result.stderr
    line = json.loads(result.stderr.strip().splitlines()[-1])
    assert {
        k: line[k] for k in ("level", "logger", "message", "request_id", "route", "status", "user_id")
    } == {
        "level": "INFO",
        "logger": "gatehouse.request",
        "message": "GET /api/v1/ 200",
        "request_id": "req-production-1",
        "route": "/api/v1/",
        "status": 200,
        "user_id": None,
    }


def test_production_json_logs_are_one_object_a_line():
    code = "import logging; logging.getLogger('gatehouse.test').warning('hello %s', 'world')"
    result = manage("shell", "--no-imports", "-c", code, env=PRODUCTION_ENV)
    line = json.loads(result.stderr.strip().splitlines()[-1])
    assert {k: line[k] for k in ("level", "logger", "message", "request_id")} == {
        "level": "WARNING",
        "logger": "gatehouse.test",
        "message": "hello world",
        "request_id": "-",
    }
