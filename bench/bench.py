"""Benchmark driver: Gatehouse against a stock djoser + simplejwt + drf-api-key peer.

Started by bench/run, which prepares the virtualenvs, wrk, PostgreSQL and Redis and passes
them in the environment (BENCH_GATEHOUSE_DATABASE_URL, BENCH_PEER_DATABASE_URL,
BENCH_REDIS_URL, BENCH_PEER_PYTHON, BENCH_WORKDIR, BENCH_PIDFILE). This script migrates and
seeds both services, starts them under gunicorn, runs the wrk scenarios round-robin, prints a
table and the targets, and writes the same as JSON. Standard library only.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import fcntl
import http.client
import json
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PEER_DIR = BENCH / "peer"
WRK_SCRIPT = BENCH / "wrk.lua"
USERNAME = "bench"
EMAIL = "bench@example.com"
# The resource server whose key (scope tokens:introspect) introspects the bench user's tokens.
INTROSPECTOR = "bench-rs"
HIGH_AUTH_RATE = "1000000/m"
HIGH_USER_RATE = "100000000/h"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- Scenarios ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One request shape; `{name}` placeholders are filled from the service's credentials."""

    method: str
    path: str
    header: tuple[str, str] | None = None
    body: dict | None = None
    # Refresh chains: (request field, response field).
    chain: tuple[str, str] | None = None


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    gatehouse: Call
    peer: Call | None  # None: Gatehouse only, nothing to compare with
    peer_title: str
    # "wrk": HTTP load; "verifier": gatehouse_client.Verifier.verify in one thread (jwks_verify.py)
    runner: str = "wrk"
    # Runs at least this long whatever --duration says (a 1 s smoke run on a busy machine can
    # end before the first Argon2 login does).
    min_duration: float = 0.0


SCENARIOS = [
    Scenario(
        "baseline",
        "GET /api/v1/ (no auth)",
        Call("GET", "/api/v1/"),
        Call("GET", "/"),
        "GET / (no auth, DRF APIView)",
    ),
    Scenario(
        "jwt_me",
        "GET /auth/me, JWT",
        Call("GET", "/api/v1/auth/me", header=("Authorization", "Bearer {access}")),
        Call("GET", "/auth/users/me/", header=("Authorization", "Bearer {access}")),
        "GET /auth/users/me/ (djoser, simplejwt JWTAuthentication)",
    ),
    Scenario(
        "apikey_me",
        "GET /auth/me, X-API-Key",
        Call("GET", "/api/v1/auth/me", header=("X-API-Key", "{api_key}")),
        Call("GET", "/api-key/me/", header=("X-API-Key", "{api_key}")),
        "GET /api-key/me/ (drf-api-key HasAPIKey)",
    ),
    Scenario(
        "refresh",
        "POST /auth/refresh, chains",
        Call("POST", "/api/v1/auth/refresh", chain=("refresh_token", "refresh_token")),
        Call("POST", "/auth/jwt/refresh/", chain=("refresh", "refresh")),
        "POST /auth/jwt/refresh/ (rotate + blacklist), chains",
    ),
    Scenario(
        "login",
        "POST /auth/login",
        Call("POST", "/api/v1/auth/login", body={"username": USERNAME, "password": "{password}"}),
        Call("POST", "/auth/jwt/create/", body={"username": USERNAME, "password": "{password}"}),
        "POST /auth/jwt/create/",
        min_duration=3.0,
    ),
    Scenario(
        "verify",
        "POST /auth/verify",
        Call("POST", "/api/v1/auth/verify", body={"token": "{access}"}),
        Call("POST", "/auth/jwt/verify/", body={"token": "{access}"}),
        "POST /auth/jwt/verify/",
    ),
    Scenario(
        "introspect",
        "POST /auth/introspect (JWT), X-API-Key",
        Call(
            "POST",
            "/api/v1/auth/introspect",
            header=("X-API-Key", "{introspection_key}"),
            body={"token": "{access}"},
        ),
        # The peer has no introspection; its verify is the nearest thing (no revocation check).
        Call("POST", "/auth/jwt/verify/", body={"token": "{access}"}),
        "POST /auth/jwt/verify/ (signature only)",
    ),
    Scenario(
        "jwks_verify",
        "gatehouse_client Verifier.verify(JWT), local check in one thread",
        # What the resource server's Verifier fetches once (discovery, then this), then never.
        Call("GET", "/.well-known/jwks.json"),
        None,
        "-",
        runner="verifier",
    ),
]
SCENARIO_KEYS = [s.key for s in SCENARIOS]

# (label, scenario, compared with: ("peer", None) or ("gatehouse", other scenario), threshold)
# Issue 15's targets (they raised round one's: JWT /me 1.5x -> 2.0x, refresh 1.0x -> 1.3x).
TARGETS = [
    ("service info >= 1.0x peer root", "baseline", ("peer", "baseline"), 1.0),
    ("JWT /me >= 2.0x peer JWT /me", "jwt_me", ("peer", "jwt_me"), 2.0),
    ("API-key /me >= 1.5x peer API-key endpoint", "apikey_me", ("peer", "apikey_me"), 1.5),
    ("refresh >= 1.3x peer refresh", "refresh", ("peer", "refresh"), 1.3),
    ("login >= 0.9x peer login", "login", ("peer", "login"), 0.9),
    ("verify >= 0.8x Gatehouse JWT /me", "verify", ("gatehouse", "jwt_me"), 0.8),
    ("introspect >= 0.8x Gatehouse JWT /me", "introspect", ("gatehouse", "jwt_me"), 0.8),
]


# --- Configuration -------------------------------------------------------------------------------


def env_number(name: str, default, kind=int):
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return kind(raw)
    except ValueError:
        raise SystemExit(f"error: {name} must be a number, not {raw!r}") from None


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/run",
        description="Gatehouse vs a stock djoser/simplejwt/drf-api-key peer, measured with wrk.",
    )
    parser.add_argument(
        "--duration", type=float, default=env_number("BENCH_DURATION", 5.0, float), help="seconds per run (5)"
    )
    parser.add_argument(
        "--rounds", type=int, default=env_number("BENCH_ROUNDS", 3), help="round-robin rounds (3)"
    )
    parser.add_argument(
        "--connections", type=int, default=env_number("BENCH_CONNECTIONS", 8), help="wrk connections (8)"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=env_number("BENCH_THREADS", 2),
        help="wrk threads (2); refresh chains always use one thread per connection",
    )
    parser.add_argument(
        "--workers", type=int, default=env_number("BENCH_WORKERS", 2), help="gunicorn workers"
    )
    parser.add_argument(
        "--scenarios",
        default=os.environ.get("BENCH_SCENARIOS", ",".join(SCENARIO_KEYS)),
        help=f"comma-separated subset of {','.join(SCENARIO_KEYS)}",
    )
    parser.add_argument("--smoke", action="store_true", help="1 second per run, 1 round: checks the harness")
    parser.add_argument(
        "--results-dir",
        default=os.environ.get("BENCH_RESULTS_DIR", str(BENCH / "results")),
        help="where the JSON report and server logs go (bench/results)",
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is not PASS")
    parser.add_argument(
        "--seed-tokens",
        type=int,
        default=env_number("BENCH_SEED_TOKENS", 0),
        help="first fill Gatehouse's outstanding-token and blacklist tables with N expired rows (scale check)",
    )
    parser.add_argument(
        "--seed-sessions",
        type=int,
        default=env_number("BENCH_SEED_SESSIONS", 0),
        help="first seed N sessions (mostly expired or revoked, 5%% live) over N/5 accounts, with their token rows",
    )
    parser.add_argument(
        "--seed-audit-events",
        type=int,
        default=env_number("BENCH_SEED_AUDIT_EVENTS", 0),
        help="first seed N valid chained audit events (COPY) over the seeded accounts",
    )
    parser.add_argument(
        "--lock",
        default=os.environ.get("BENCH_LOCK", ""),
        help="hold an exclusive flock on this file while measuring only (after seeding and start-up)",
    )
    args = parser.parse_args(argv)
    if args.smoke:
        args.duration, args.rounds = 1.0, 1
    # jwks-verify and jwks_verify both name the scenario.
    args.scenarios = [s.strip().replace("-", "_") for s in args.scenarios.split(",") if s.strip()]
    unknown = set(args.scenarios) - set(SCENARIO_KEYS)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    if args.duration <= 0 or args.rounds < 1 or args.connections < 1 or args.threads < 1:
        parser.error("duration, rounds, connections and threads must be positive")
    args.threads = min(args.threads, args.connections)
    return args


# --- Processes -------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Processes:
    """Servers this driver started; their pids also go to a file the shell's trap reads."""

    def __init__(self, pidfile: Path):
        self.pidfile = pidfile
        self.procs: list[subprocess.Popen] = []

    def _write(self) -> None:
        self.pidfile.write_text("".join(f"{p.pid}\n" for p in self.procs if p.poll() is None))

    def start(self, cmd: list[str], *, env: dict, cwd: Path, log_path: Path) -> subprocess.Popen:
        with log_path.open("ab") as out:
            proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)  # noqa: S603
        self.procs.append(proc)
        self._write()
        return proc

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        self.procs = []
        self._write()


def run_checked(
    cmd: list[str], *, env: dict, cwd: Path, stdin: str | None = None, what: str, timeout: float = 300
) -> str:
    result = subprocess.run(  # noqa: S603
        cmd, cwd=cwd, env=env, input=stdin, capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        raise SystemExit(
            f"error: {what} failed ({result.returncode}):\n{result.stdout[-2000:]}{result.stderr[-3000:]}"
        )
    return result.stdout


# --- HTTP ---------------------------------------------------------------------------------------


def request_json(port: int, method: str, path: str, *, body: dict | None = None, headers: dict | None = None):
    """One request; returns (status, parsed JSON or raw text)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        payload = json.dumps(body).encode() if body is not None else None
        all_headers = {"Content-Type": "application/json"} if payload is not None else {}
        all_headers.update(headers or {})
        conn.request(method, path, body=payload, headers=all_headers)
        response = conn.getresponse()
        raw = response.read().decode("utf-8", "replace")
    finally:
        conn.close()
    try:
        return response.status, json.loads(raw)
    except ValueError:
        return response.status, raw


def short(body, limit: int = 200) -> str:
    """A one-line excerpt of a response body (an HTML page is reduced to its title)."""
    text = body if isinstance(body, str) else json.dumps(body)
    title = re.search(r"<title>(.*?)</title>", text, re.I | re.S)
    if title:
        text = f"HTML page {title.group(1).strip()!r}"
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "…"


# --- Services ----------------------------------------------------------------------------------


@dataclass
class Service:
    name: str
    port: int
    login_path: str
    access_field: str
    refresh_field: str
    log_path: Path
    info_path: str
    password: str = ""
    api_key: str | None = None
    introspection_key: str = ""
    api_key_error: str | None = None
    access: str = ""
    errors: dict = field(default_factory=dict)

    def login(self) -> dict:
        status, body = request_json(
            self.port, "POST", self.login_path, body={"username": USERNAME, "password": self.password}
        )
        if status != 200 or not isinstance(body, dict) or self.refresh_field not in body:
            raise SystemExit(f"error: {self.name} login answered {status}: {short(body)}")
        return body


def wait_ready(port: int, path: str, proc: subprocess.Popen, log_path: Path, name: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            if request_json(port, "GET", path)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    tail = log_path.read_text(errors="replace")[-3000:] if log_path.exists() else ""
    raise SystemExit(f"error: {name} did not start on port {port}:\n{tail}")


def gunicorn_cmd(python: str, app: str, port: int, workers: int, chdir: Path) -> list[str]:
    return [
        python,
        "-m",
        "gunicorn",
        app,
        "--chdir",
        str(chdir),
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        "sync",
        "--timeout",
        "60",
        "--graceful-timeout",
        "5",
        "--log-level",
        "warning",
    ]


def gatehouse_env(database_url: str, redis_url: str, port: int) -> dict:
    """Production settings as the README's "Running in production" sets them (EdDSA keys, an
    explicit key-encryption key, PUBLIC_BASE_URL), with the limits raised out of the way."""
    env = dict(os.environ)
    # JWT_ALGORITHM from the environment (default EdDSA); the HS256 secret only for HS256.
    if env.get("JWT_ALGORITHM", "EdDSA") == "HS256":
        env["JWT_SIGNING_KEY"] = secrets.token_urlsafe(48)
    else:
        env.pop("JWT_SIGNING_KEY", None)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            # A Fernet key: 32 random bytes, URL-safe base64.
            "JWT_KEY_ENCRYPTION_KEYS": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
            # Where clients reach it: the discovery document's URLs (the Verifier follows them).
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DJANGO_SECURE_SSL_REDIRECT": "false",
            "RATELIMIT_AUTH": HIGH_AUTH_RATE,
            "RATELIMIT_VERIFY": HIGH_AUTH_RATE,
            "RATELIMIT_GUEST": HIGH_USER_RATE,
            "RATELIMIT_USER": HIGH_USER_RATE,
            "RATELIMIT_DEVELOPER": HIGH_USER_RATE,
            "RATELIMIT_SERVICE_ACCOUNT": HIGH_USER_RATE,
            "RATELIMIT_ADMIN": HIGH_USER_RATE,
            "AXES_FAILURE_LIMIT": "1000000",
        }
    )
    return env


def peer_env(database_url: str) -> dict:
    env = dict(os.environ)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.update({"PEER_SECRET_KEY": secrets.token_urlsafe(50), "DATABASE_URL": database_url})
    return env


def flush_redis(redis_url: str) -> None:
    """A cold, empty cache database for Gatehouse (its own db number when reusing a server)."""
    url = urlsplit(redis_url)
    db = (url.path or "/0").lstrip("/") or "0"
    with socket.create_connection((url.hostname or "127.0.0.1", url.port or 6379), timeout=5) as sock:
        sock.sendall(f"*2\r\n$6\r\nSELECT\r\n${len(db)}\r\n{db}\r\n*1\r\n$7\r\nFLUSHDB\r\n".encode())
        reply = b""
        while reply.count(b"\r\n") < 2:
            chunk = sock.recv(256)
            if not chunk:
                break
            reply += chunk
    if reply.count(b"+OK") < 2:
        raise SystemExit(f"error: could not flush Redis db {db}: {reply!r}")


def prepare(args, procs: Processes, logs_dir: Path) -> tuple[Service, Service]:
    gh_db = os.environ["BENCH_GATEHOUSE_DATABASE_URL"]
    peer_db = os.environ["BENCH_PEER_DATABASE_URL"]
    redis_url = os.environ["BENCH_REDIS_URL"]
    peer_python = os.environ["BENCH_PEER_PYTHON"]
    gh_python = str(ROOT / ".venv" / "bin" / "python")
    gh_port = free_port()
    gh_env = gatehouse_env(gh_db, redis_url, gh_port)
    pr_env = peer_env(peer_db)
    flush_redis(redis_url)

    log("== migrating both databases")
    migrations = [
        subprocess.Popen(  # noqa: S603
            [gh_python, "manage.py", "migrate", "--no-input", "-v", "0"],
            cwd=ROOT,
            env=gh_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        ),
        subprocess.Popen(  # noqa: S603
            [peer_python, "manage.py", "migrate", "--no-input", "-v", "0"],
            cwd=PEER_DIR,
            env=pr_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        ),
    ]
    for name, proc in zip(("Gatehouse", "peer"), migrations, strict=True):
        out, _ = proc.communicate(timeout=300)
        if proc.returncode != 0:
            raise SystemExit(f"error: {name} migrate failed:\n{out[-3000:]}")

    if args.seed_tokens or args.seed_sessions or args.seed_audit_events:
        log(
            f"== seeding Gatehouse: {args.seed_tokens} expired, blacklisted refresh-token records, "
            f"{args.seed_sessions} sessions, {args.seed_audit_events} chained audit events"
        )
        seeded_out = run_checked(
            [
                gh_python,
                "bench/seed_tokens.py",
                str(args.seed_tokens),
                "--sessions",
                str(args.seed_sessions),
                "--audit-events",
                str(args.seed_audit_events),
            ],
            env=gh_env,
            cwd=ROOT,
            what="seed tokens",
            timeout=3600,  # 5M chained audit events take minutes on a busy machine
        )
        for line in seeded_out.splitlines():
            log(f"   {line.strip()}")

    log("== seeding the benchmark users")
    gh = Service(
        "Gatehouse",
        gh_port,
        "/api/v1/auth/login",
        "access_token",
        "refresh_token",
        logs_dir / "gatehouse.log",
        "/api/v1/",
        password=secrets.token_urlsafe(18),
    )
    peer = Service(
        "peer",
        free_port(),
        "/auth/jwt/create/",
        "access",
        "refresh",
        logs_dir / "peer.log",
        "/",
        password=secrets.token_urlsafe(18),
    )
    run_checked(
        [gh_python, "manage.py", "create_user", USERNAME, "--email", EMAIL, "--password-stdin"],
        env=gh_env,
        cwd=ROOT,
        stdin=gh.password + "\n",
        what="Gatehouse create_user",
    )
    seeded = run_checked(
        [peer_python, "manage.py", "bench_seed", USERNAME, "--email", EMAIL],
        env=pr_env,
        cwd=PEER_DIR,
        stdin=peer.password + "\n",
        what="peer bench_seed",
    )
    peer.api_key = json.loads(seeded.strip().splitlines()[-1])["api_key"]
    run_checked(
        [
            gh_python,
            "manage.py",
            "create_user",
            INTROSPECTOR,
            "--email",
            f"{INTROSPECTOR}@example.com",
            "--role",
            "service_account",
        ],
        env=gh_env,
        cwd=ROOT,
        stdin="",
        what="Gatehouse create_user (service account)",
    )
    minted = run_checked(
        [
            gh_python,
            "manage.py",
            "create_api_key",
            INTROSPECTOR,
            "--name",
            "bench introspection",
            "--scope",
            "tokens:introspect",
        ],
        env=gh_env,
        cwd=ROOT,
        what="Gatehouse create_api_key (tokens:introspect)",
    )
    gh.introspection_key = minted.strip().splitlines()[-1].rsplit(" ", 1)[-1]

    log(
        f"== starting Gatehouse on :{gh.port} and the peer on :{peer.port} ({args.workers} sync workers each)"
    )
    gh_proc = procs.start(
        gunicorn_cmd(gh_python, "config.wsgi:application", gh.port, args.workers, ROOT),
        env=gh_env,
        cwd=ROOT,
        log_path=gh.log_path,
    )
    peer_proc = procs.start(
        gunicorn_cmd(peer_python, "peer.wsgi:application", peer.port, args.workers, PEER_DIR),
        env=pr_env,
        cwd=PEER_DIR,
        log_path=peer.log_path,
    )
    wait_ready(gh.port, gh.info_path, gh_proc, gh.log_path, "Gatehouse")
    wait_ready(peer.port, peer.info_path, peer_proc, peer.log_path, "peer")

    # Gatehouse's API key comes from its API (the peer's from its management command above).
    access = gh.login()["access_token"]
    status, body = request_json(
        gh.port,
        "POST",
        "/api/v1/api-keys",
        body={"name": "bench", "scopes": ["profile:read"]},
        headers={"Authorization": f"Bearer {access}"},
    )
    if status == 201 and isinstance(body, dict) and str(body.get("key", "")).startswith("gk_"):
        gh.api_key = body["key"]
    else:
        gh.api_key_error = f"POST /api/v1/api-keys answered {status}: {short(body, 120)}"
        log(f"!! {gh.api_key_error}; the API-key scenario is reported as an error for Gatehouse")
    return gh, peer


# --- Running one scenario ----------------------------------------------------------------------


def fill(value, creds: dict):
    if isinstance(value, str):
        return value.format(**creds)
    if isinstance(value, dict):
        return {k: fill(v, creds) for k, v in value.items()}
    return value


def preflight(service: Service, call: Call, creds: dict) -> str | None:
    """One request outside wrk: the scenario must answer 2xx with the expected body."""
    if call.chain:
        token = service.login()[service.refresh_field]
        for _ in range(2):  # two links: the rotated token must work too
            status, body = request_json(service.port, "POST", call.path, body={call.chain[0]: token})
            if status != 200 or not isinstance(body, dict) or call.chain[1] not in body:
                return f"{call.method} {call.path} answered {status}: {short(body, 160)}"
            token = body[call.chain[1]]
        return None
    headers = {}
    if call.header:
        headers[call.header[0]] = fill(call.header[1], creds)
    status, body = request_json(
        service.port, call.method, call.path, body=fill(call.body, creds), headers=headers
    )
    if not 200 <= status < 300:
        return f"{call.method} {call.path} answered {status}: {short(body, 160)}"
    if isinstance(body, dict) and body.get("valid") is False:
        return f"{call.method} {call.path} says the token is not valid: {short(body, 160)}"
    return None


def run_wrk(args, service: Service, call: Call, creds: dict, workdir: Path, duration: float) -> dict:
    env = dict(os.environ)
    for name in list(env):
        if name.startswith("BENCH_") and name not in ("BENCH_WORKDIR",):
            env.pop(name)
    env["BENCH_METHOD"] = call.method
    threads, connections = args.threads, args.connections
    token_file = None
    if call.chain:
        # One chain per connection: wrk's Lua state is per thread, so one connection per thread.
        threads = connections
        tokens = [service.login()[service.refresh_field] for _ in range(connections)]
        fd, name = tempfile.mkstemp(prefix="refresh-", dir=workdir)
        with os.fdopen(fd, "w") as out:
            out.write("\n".join(tokens) + "\n")
        token_file = Path(name)
        env["BENCH_REFRESH_FILE"] = name
        env["BENCH_REFRESH_REQUEST_FIELD"], env["BENCH_REFRESH_RESPONSE_FIELD"] = call.chain
    if call.body is not None:
        env["BENCH_BODY"] = json.dumps(fill(call.body, creds), separators=(",", ":"))
    if call.header:
        env["BENCH_HEADER_NAME"] = call.header[0]
        env["BENCH_HEADER_VALUE"] = fill(call.header[1], creds)
    cmd = [
        "wrk",
        "-t",
        str(threads),
        "-c",
        str(connections),
        "-d",
        f"{duration:g}s",
        "--timeout",
        "10s",
        "-s",
        str(WRK_SCRIPT),
        f"http://127.0.0.1:{service.port}{call.path}",
    ]
    wrk = shutil.which("wrk") or "wrk"
    try:
        result = subprocess.run(  # noqa: S603
            [wrk, *cmd[1:]], env=env, capture_output=True, text=True, timeout=duration + 60, check=False
        )
    finally:
        if token_file:
            token_file.unlink(missing_ok=True)
    match = re.search(r"^BENCH_RESULT (\{.*\})$", result.stdout, re.MULTILINE)
    if result.returncode != 0 or not match:
        return {"error": f"wrk failed ({result.returncode}): {(result.stderr or result.stdout)[-300:]}"}
    data = json.loads(match.group(1))
    data["socket_errors_total"] = sum(data["socket_errors"].values())
    return data


def run_verifier(args, service: Service, creds: dict) -> dict:
    """jwks_verify: bench/jwks_verify.py times Verifier.verify against the running Gatehouse."""
    config = {
        "base_url": f"http://127.0.0.1:{service.port}",
        "token": creds["access"],
        "duration": args.duration,
    }
    result = subprocess.run(  # noqa: S603
        [str(ROOT / ".venv" / "bin" / "python"), str(BENCH / "jwks_verify.py")],
        input=json.dumps(config),
        capture_output=True,
        text=True,
        timeout=args.duration + 60,
        check=False,
    )
    match = re.search(r"^BENCH_RESULT (\{.*\})$", result.stdout, re.MULTILINE)
    if result.returncode != 0 or not match:
        return {
            "error": f"jwks_verify failed ({result.returncode}): {(result.stderr or result.stdout)[-300:]}"
        }
    data = json.loads(match.group(1))
    data["socket_errors_total"] = 0
    if data["jwks_fetches"]:
        # The point of local checks is no call to Gatehouse per request: a fetch is a finding.
        data["non2xx"] += data["jwks_fetches"]
        data["statuses"]["jwks_fetches"] = data["jwks_fetches"]
    return data


def settle(service: Service) -> None:
    """Wait until the requests wrk left queued are served, so they don't load the next run.

    wrk stops sending at the deadline, but a sync worker still serves every connection already
    in its accept queue (eight queued Argon2 logins are a second of CPU). A probe queues behind
    them; a short pause then lets PostgreSQL and the workers go quiet.
    """
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            request_json(service.port, "GET", service.info_path)
            break
        except OSError:
            time.sleep(0.1)
    time.sleep(0.3)


# --- Aggregation and report -------------------------------------------------------------------------


def aggregate(runs: list[dict], error: str | None) -> dict:
    if error:
        return {"status": "error", "error": error, "rounds": runs}
    good = [r for r in runs if "error" not in r]
    if not good:
        return {"status": "error", "error": runs[0]["error"] if runs else "not run", "rounds": runs}
    statuses: dict[str, int] = {}
    for run in good:
        for code, count in run["statuses"].items():
            statuses[code] = statuses.get(code, 0) + count
    rps = [r["rps"] for r in good]
    return {
        "status": "ok" if len(good) == len(runs) else "partial",
        "rps": statistics.median(rps),
        "rps_min": min(rps),
        "rps_max": max(rps),
        "p50_ms": statistics.median(r["p50_ms"] for r in good),
        "p99_ms": statistics.median(r["p99_ms"] for r in good),
        "requests": sum(r["requests"] for r in good),
        "non2xx": sum(r["non2xx"] for r in good),
        "socket_errors": sum(r["socket_errors_total"] for r in good),
        "chain_broken": sum(r.get("chain_broken", 0) for r in good),
        "statuses": dict(sorted(statuses.items())),
        "rounds": runs,
    }


def ratio(a: dict, b: dict) -> float | None:
    if a.get("status") == "error" or b.get("status") == "error" or not b.get("rps"):
        return None
    return a["rps"] / b["rps"]


def evaluate_targets(rows: dict) -> list[dict]:
    out = []
    for label, key, (other_side, other_key), threshold in TARGETS:
        if key not in rows or other_key not in rows:
            continue
        mine = rows[key]["gatehouse"]
        other = rows[other_key][other_side]
        value = ratio(mine, other)
        note = ""
        if value is None:
            result = "ERROR"
            note = mine.get("error") or other.get("error") or "no numbers"
        elif mine["non2xx"] or mine["socket_errors"]:
            result = "MISS"
            note = f"Gatehouse had {mine['non2xx']} non-2xx and {mine['socket_errors']} socket errors"
        else:
            result = "PASS" if value >= threshold else "MISS"
        out.append(
            {
                "target": label,
                "scenario": key,
                "compared_with": f"{other_side}:{other_key}",
                "threshold": threshold,
                "value": value,
                "result": result,
                "note": note,
            }
        )
    return out


def fmt(value, spec: str = ".0f") -> str:
    return "-" if value is None else format(value, spec)


def table(rows: dict) -> str:
    headers = [
        "scenario",
        "GH req/s",
        "GH p50 ms",
        "GH p99 ms",
        "GH non-2xx",
        "GH/baseline",
        "peer req/s",
        "peer p50 ms",
        "peer p99 ms",
        "peer non-2xx",
        "GH/peer",
    ]
    lines = []
    baseline = rows.get("baseline", {}).get("gatehouse", {})
    for key, row in rows.items():
        gh, pr = row["gatehouse"], row["peer"]
        cells = [key]
        for side in (gh, pr):
            if side["status"] == "n/a":
                cells += ["-", "-", "-", "-"]
            elif side["status"] == "error":
                cells += ["error", "-", "-", "-"]
            else:
                cells += [
                    fmt(side["rps"]),
                    fmt(side["p50_ms"], ".2f"),
                    fmt(side["p99_ms"], ".2f"),
                    str(side["non2xx"]),
                ]
            if side is gh:
                comparable = baseline and row["runner"] == "wrk"
                cells.append(fmt(ratio(gh, baseline) if comparable else None, ".3f"))
        cells.append(fmt(ratio(gh, pr), ".2f"))
        lines.append(cells)
    widths = [max(len(headers[i]), *(len(line[i]) for line in lines)) for i in range(len(headers))]

    def render(cells):
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    out = [render(headers), "  ".join("-" * w for w in widths)]
    out += [render(line) for line in lines]
    notes = []
    for key, row in rows.items():
        for side_name, side in (("Gatehouse", row["gatehouse"]), ("peer", row["peer"])):
            if side["status"] == "n/a":
                continue
            if side["status"] == "error":
                notes.append(f"  {key} / {side_name}: ERROR {side['error']}")
            elif side["non2xx"] or side["socket_errors"] or side.get("chain_broken"):
                notes.append(
                    f"  {key} / {side_name}: statuses {side['statuses']}, socket errors {side['socket_errors']}"
                    + (f", broken chain links {side['chain_broken']}" if side.get("chain_broken") else "")
                )
    if "jwks_verify" in rows:
        out += [
            "",
            "jwks_verify: verifications/s of gatehouse_client's Verifier.verify() on one thread (no HTTP per",
            "call; the JWKS was fetched once before timing); p50/p99 are one call. Gatehouse only, no peer.",
        ]
    if notes:
        out += ["", "Problems:", *notes]
    return "\n".join(out)


LOG_PROBLEM = re.compile(r"Traceback|\bERROR\b|\[CRITICAL\]|WORKER TIMEOUT|Worker \(pid:\d+\) was sent", re.I)


def scan_log(path: Path) -> dict:
    if not path.exists():
        return {"path": str(path), "problem_lines": 0, "examples": []}
    lines = path.read_text(errors="replace").splitlines()
    problems = [line for line in lines if LOG_PROBLEM.search(line)]
    return {"path": str(path), "lines": len(lines), "problem_lines": len(problems), "examples": problems[:5]}


def versions(peer_python: str) -> dict:
    out = {"python": platform.python_version()}
    try:
        out["wrk"] = subprocess.run(  # noqa: S603
            [shutil.which("wrk") or "wrk", "-v"], capture_output=True, text=True, timeout=10, check=False
        ).stdout.splitlines()[0]
    except (OSError, IndexError, subprocess.SubprocessError):
        out["wrk"] = "unknown"
    code = (
        "import importlib.metadata as m, json; print(json.dumps({p: m.version(p) for p in "
        "['Django', 'djangorestframework', 'djangorestframework-simplejwt', 'djoser', "
        "'djangorestframework-api-key', 'gunicorn']}))"
    )
    result = subprocess.run(
        [peer_python, "-c", code], capture_output=True, text=True, timeout=30, check=False
    )  # noqa: S603
    if result.returncode == 0:
        out["peer_packages"] = json.loads(result.stdout)
    return out


# --- Main --------------------------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    for name in (
        "BENCH_GATEHOUSE_DATABASE_URL",
        "BENCH_PEER_DATABASE_URL",
        "BENCH_REDIS_URL",
        "BENCH_PEER_PYTHON",
    ):
        if not os.environ.get(name):
            raise SystemExit(f"error: {name} is not set; start the benchmark with ./bench/run")
    workdir = Path(os.environ.get("BENCH_WORKDIR") or tempfile.mkdtemp(prefix="gatehouse-bench-"))
    pidfile = Path(os.environ.get("BENCH_PIDFILE") or workdir / "pids")
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    results_dir = Path(args.results_dir)
    logs_dir = results_dir / f"logs-{stamp}"
    logs_dir.mkdir(parents=True, exist_ok=True)

    load_before = os.getloadavg()[0]
    procs = Processes(pidfile)
    lock_file = None
    lock_wait = 0.0
    try:
        gh, peer = prepare(args, procs, logs_dir)
        if args.lock:
            # Seeding and start-up done: only the measurement waits for (and holds) the lock that
            # keeps benchmarks on a shared machine from overlapping.
            log(f"== waiting for the measurement lock {args.lock}")
            waited = time.monotonic()
            lock_file = open(args.lock, "a")  # held until the measurement ends
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            lock_wait = round(time.monotonic() - waited, 1)
            load_before = os.getloadavg()[0]
        selected = [s for s in SCENARIOS if s.key in args.scenarios]
        runs: dict[str, dict[str, list]] = {s.key: {"gatehouse": [], "peer": []} for s in selected}
        errors: dict[str, dict[str, str | None]] = {
            s.key: {"gatehouse": None, "peer": None} for s in selected
        }
        if gh.api_key_error and "apikey_me" in errors:
            errors["apikey_me"]["gatehouse"] = gh.api_key_error

        total = sum(2 if s.peer else 1 for s in selected) * args.rounds
        log(
            f"== {total} runs of {args.duration:g}s: {len(selected)} scenarios x 2 services (or Gatehouse "
            f"only) x {args.rounds} rounds, {args.connections} connections, {args.threads} threads"
        )
        done = 0
        for round_no in range(1, args.rounds + 1):
            # Fresh access tokens each round (they live 15 minutes; long runs outlast them).
            creds = {
                "gatehouse": {
                    "access": gh.login()["access_token"],
                    "api_key": gh.api_key or "",
                    "introspection_key": gh.introspection_key,
                    "password": gh.password,
                },
                "peer": {
                    "access": peer.login()["access"],
                    "api_key": peer.api_key or "",
                    "password": peer.password,
                },
            }
            for scenario in selected:
                pair = [("gatehouse", gh, scenario.gatehouse), ("peer", peer, scenario.peer)]
                if round_no % 2 == 0:
                    pair.reverse()  # even rounds run the peer first: no systematic order bias
                for side, service, call in pair:
                    if call is None:
                        continue  # Gatehouse-only scenario
                    done += 1
                    if errors[scenario.key][side]:
                        continue
                    problem = preflight(service, call, creds[side])
                    if problem:
                        errors[scenario.key][side] = problem
                        log(f"!! {scenario.key} / {service.name}: {problem}")
                        continue
                    if scenario.runner == "verifier":
                        result = run_verifier(args, service, creds[side])
                    else:
                        duration = max(args.duration, scenario.min_duration)
                        result = run_wrk(args, service, call, creds[side], workdir, duration)
                        settle(service)
                    runs[scenario.key][side].append(result)
                    if "error" in result:
                        summary = result["error"]
                    else:
                        summary = (
                            f"{result['rps']:8.1f} req/s  p50 {result['p50_ms']:7.2f} ms  "
                            f"p99 {result['p99_ms']:7.2f} ms  non-2xx {result['non2xx']}"
                        )
                    log(
                        f"   [{done:>3}/{total}] round {round_no} {scenario.key:<10} {service.name:<9} {summary}"
                    )
        rows = {
            s.key: {
                "title": s.title,
                "peer_title": s.peer_title,
                "runner": s.runner,
                "gatehouse": aggregate(runs[s.key]["gatehouse"], errors[s.key]["gatehouse"]),
                "peer": (
                    aggregate(runs[s.key]["peer"], errors[s.key]["peer"])
                    if s.peer is not None
                    else {"status": "n/a", "rounds": []}
                ),
            }
            for s in selected
        }
    finally:
        procs.stop_all()
        if lock_file is not None:
            lock_file.close()  # releases the flock

    baseline = rows.get("baseline", {}).get("gatehouse")
    for row in rows.values():
        # Verifications in process and HTTP requests are not the same unit: no ratio.
        comparable = baseline and row["runner"] == "wrk"
        row["ratio_to_gatehouse_baseline"] = ratio(row["gatehouse"], baseline) if comparable else None
        row["gatehouse_over_peer"] = ratio(row["gatehouse"], row["peer"])
        # Each round's pair ran back to back under the same machine load: their ratios are
        # steadier than the ratio of medians when something else shares the machine.
        pairs = [
            g["rps"] / p["rps"]
            for g, p in zip(row["gatehouse"]["rounds"], row["peer"]["rounds"], strict=False)
            if "error" not in g and "error" not in p and p["rps"]
        ]
        row["gatehouse_over_peer_by_round"] = pairs
        row["gatehouse_over_peer_paired_median"] = statistics.median(pairs) if pairs else None
    targets = evaluate_targets(rows)
    report = {
        "started_at": stamp,
        "config": {
            "duration_s": args.duration,
            "rounds": args.rounds,
            "connections": args.connections,
            "threads": args.threads,
            "gunicorn_workers": args.workers,
            "smoke": args.smoke,
            "seed_tokens": args.seed_tokens,
            "seed_sessions": args.seed_sessions,
            "seed_audit_events": args.seed_audit_events,
            "lock_wait_s": lock_wait,
            "cpus": os.cpu_count(),
            "load_average_1m_before": load_before,
            "load_average_1m_after": os.getloadavg()[0],
        },
        "versions": versions(os.environ["BENCH_PEER_PYTHON"]),
        "scenarios": rows,
        "targets": targets,
        "server_logs": {"gatehouse": scan_log(gh.log_path), "peer": scan_log(peer.log_path)},
    }
    results_dir.mkdir(parents=True, exist_ok=True)
    json_path = results_dir / f"bench-{stamp}.json"
    json_path.write_text(json.dumps(report, indent=2) + "\n")

    print()
    print(
        f"Gatehouse vs peer: {args.duration:g}s x {args.rounds} rounds per scenario, {args.connections} "
        f"connections, {args.workers} sync gunicorn workers each; req/s and latencies are medians of the rounds"
    )
    print(table(rows))
    # Before the run only: during it, the benchmark's own load counts too.
    if load_before > 0.5 * (os.cpu_count() or 1):
        print(
            f"\nNote: the machine was busy before this benchmark started (1-minute load average "
            f"{load_before:.1f} on {os.cpu_count()} CPUs): ratios are noisy; see the per-round pairs in the JSON."
        )
    print()
    print("Targets:")
    for t in targets:
        value = "-" if t["value"] is None else f"{t['value']:.2f}x"
        print(
            f"  {t['result']:<5} {t['target']:<45} measured {value}"
            + (f"  ({t['note']})" if t["note"] else "")
        )
    for name, scan in report["server_logs"].items():
        if scan["problem_lines"]:
            print(f"\n{name} log: {scan['problem_lines']} error lines in {scan['path']}, e.g.:")
            for line in scan["examples"]:
                print(f"  {line[:200]}")
    print(f"\nJSON: {json_path}")
    print(f"Server logs: {logs_dir}")
    if args.strict and any(t["result"] != "PASS" for t in targets):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
