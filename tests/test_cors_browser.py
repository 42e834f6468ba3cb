"""CORS as a browser enforces it: a page on another origin logs in with fetch and reads /me.

The API is the live server (http://localhost:PORT); the page comes from a second origin, a
tiny http.server on 127.0.0.1 with another port. Debian's headless Chromium runs the page,
and the test asserts on what the page itself reports. Screenshots land next to the admin's.
"""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from accounts.tests.factories import PASSWORD, UserFactory
from tests.conftest import chromium_tab

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Other app</title></head>
<body><h1>An app on another origin</h1><pre id="result">running…</pre>
<script>
const api = new URLSearchParams(location.search).get("api");
const out = document.getElementById("result");
(async () => {
  try {
    const login = await fetch(api + "/api/v1/auth/login", {
      method: "POST",
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify({username: "alice", password: %(password)s}),
    });
    const tokens = await login.json();
    const me = await fetch(api + "/api/v1/auth/me", {
      headers: {"Authorization": "Bearer " + tokens.access_token, "X-Request-ID": "cors-browser-test"},
    });
    const user = await me.json();
    out.textContent = "ok " + me.status + " " + user.username + " request-id " + me.headers.get("X-Request-ID");
  } catch (error) {
    out.textContent = "error " + error.name + ": " + error.message;
  }
  out.dataset.done = "yes";
})();
</script></body></html>
"""


@pytest.fixture
def other_origin():
    """http://127.0.0.1:<port>/app.html, served from a thread: a second origin."""
    html = (PAGE % {"password": f'"{PASSWORD}"'}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(html)))
            self.end_headers()
            self.wfile.write(html)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def browser_tab(settings):
    settings.RATELIMIT_AUTH = "1000/m"
    with chromium_tab(width=900, height=400) as tab:
        yield tab


def run_page(tab, page_origin: str, api: str) -> str:
    tab.goto(f"{page_origin}/app.html?api={api}")
    tab.wait_for_selector("#result[data-done=yes]")
    return tab.inner_text("#result")


def test_a_listed_origin_logs_in_and_reads_me_from_the_browser(
    browser_tab, live_server, other_origin, settings
):
    UserFactory(username="alice", email="alice@example.com")
    settings.CORS_ALLOWED_ORIGINS = [other_origin]
    result = run_page(browser_tab, other_origin, live_server.url)
    browser_tab.shot("cors-01-listed-origin")
    assert result == "ok 200 alice request-id cors-browser-test"


def test_an_unlisted_origin_cannot_read_the_api_from_the_browser(
    browser_tab, live_server, other_origin, settings
):
    UserFactory(username="alice", email="alice@example.com")
    settings.CORS_ALLOWED_ORIGINS = ["http://127.0.0.1:1"]
    result = run_page(browser_tab, other_origin, live_server.url)
    browser_tab.shot("cors-02-unlisted-origin")
    assert result.startswith("error TypeError: ")
