"""Live servers for the tests that cross process boundaries: gunicorn on the test database."""

import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def services_required() -> None:
    """Live tests need the PostgreSQL and Redis that scripts/test starts; fail, never skip."""
    if "redis" not in os.environ.get("GATEHOUSE_SERVICES", ""):
        pytest.fail("this test needs live PostgreSQL and Redis: run it with ./scripts/test")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    def __init__(self, url: str, process: subprocess.Popen, log: Path):
        self.url, self.process, self.log = url, process, log

    def post(self, path: str, json=None, **kwargs) -> requests.Response:
        return requests.post(self.url + path, json=json, timeout=30, **kwargs)

    def get(self, path: str, **kwargs) -> requests.Response:
        return requests.get(self.url + path, timeout=30, **kwargs)


def start_gunicorn(
    tmp_path: Path,
    *,
    workers: int = 2,
    extra_env: dict | None = None,
    config_file: bool = False,
    bind_host: str = "127.0.0.1",
    url_host: str = "127.0.0.1",
    port: int | None = None,
) -> LiveServer:
    """gunicorn with production-like settings against the current test database.

    `config_file`: start it as the README says production does, with `-c config/gunicorn.py`.
    `bind_host` "[::1]" serves IPv6 loopback (url_host "[::1]"); "[::ffff:127.0.0.1]" an IPv6
    socket that IPv4 clients reach, as on a dual-stack host (REMOTE_ADDR is then IPv4-mapped).
    `port`: when the environment must name the server's own URL (PUBLIC_BASE_URL); else a free one.
    """
    services_required()
    db = connection.settings_dict
    port = port or _free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        **(extra_env or {}),
    }
    log = tmp_path / f"gunicorn-{port}.log"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            *(["-c", "config/gunicorn.py"] if config_file else []),
            "config.wsgi:application",
            "--bind",
            f"{bind_host}:{port}",
            "--workers",
            str(workers),
            "--timeout",
            "60",
            "--access-logfile",
            "-",
        ],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://{url_host}:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            # Each worker imports the app on its first request, which can be slow on a busy machine.
            if requests.get(url + "/api/v1/", timeout=10).status_code == 200:
                return LiveServer(url, process, log)
        except requests.RequestException:
            time.sleep(0.2)
        if process.poll() is not None:
            break
    process.kill()
    pytest.fail(f"gunicorn did not start:\n{log.read_text()[-3000:]}")


def stop_gunicorn(server: LiveServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()


def pgbouncer_database_url() -> str:
    """The current test database through the PgBouncer (transaction pooling) scripts/test starts."""
    services_required()
    port = os.environ.get("GH_PGBOUNCER_PORT")
    if not port:
        pytest.fail("this test needs the PgBouncer that ./scripts/test starts (GH_PGBOUNCER_PORT)")
    db = connection.settings_dict
    return f"postgres://{db['USER']}@127.0.0.1:{port}/{db['NAME']}"


# For tests about something else than rate limits: generous enough never to trip.
UNLIMITED = {"RATELIMIT_AUTH": "100000/m"}


@pytest.fixture
def live_gunicorn(transactional_db, tmp_path):
    server = start_gunicorn(tmp_path, extra_env=UNLIMITED)
    yield server
    stop_gunicorn(server)


ARTIFACTS = Path(os.environ.get("GATEHOUSE_ARTIFACTS", ROOT / "test-artifacts"))
CHROMIUM = "/usr/bin/chromium"


@contextlib.contextmanager
def chromium_tab(*, width: int, height: int):
    """A tab in Debian's headless Chromium (Playwright drives it; no browser download), with
    `tab.shot(name)` saving a full-page screenshot to test-artifacts/screenshots/."""
    from playwright import sync_api as playwright_sync

    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: ./scripts/test installs Debian's chromium package")
    # Playwright's sync API runs an event loop in this thread; the ORM calls in these tests are
    # ordinary synchronous ones.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    shots = ARTIFACTS / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    try:
        with playwright_sync.sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=CHROMIUM,
                args=["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking"],
            )
            context = browser.new_context(viewport={"width": width, "height": height})
            tab = context.new_page()
            tab.set_default_timeout(15000)
            tab.shot = lambda name: tab.screenshot(path=str(shots / f"{name}.png"), full_page=True)
            try:
                yield tab
            finally:
                context.close()
                browser.close()
    finally:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
