"""A client generated from /api/schema by openapi-python-client works against a live server.

The client is generated into a temporary directory and installed, with its dependencies
(httpx, attrs), into a fresh virtualenv made here; a script run by that virtualenv's Python
registers, logs in, refreshes, reads /auth/me and lists the sessions with the generated code.
"""

import json
import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import json, sys
    from gatehouse_api_client import AuthenticatedClient, Client
    from gatehouse_api_client.api.api import (
        api_v1_auth_login_create, api_v1_auth_me_retrieve, api_v1_auth_refresh_create,
        api_v1_auth_register_create, api_v1_auth_sessions_list,
    )
    from gatehouse_api_client.models import RefreshRequest, RegisterRequest, TokenResponse, User

    url = sys.argv[1]
    public = Client(base_url=url)
    user = api_v1_auth_register_create.sync(client=public, body=RegisterRequest(
        username="generated", email="generated@example.com", password="a client made from the schema",
    ))
    assert isinstance(user, User), user
    tokens = api_v1_auth_login_create.sync(
        client=public, body={"username": "generated", "password": "a client made from the schema"}
    )
    assert isinstance(tokens, TokenResponse), tokens
    fresh = api_v1_auth_refresh_create.sync(
        client=public, body=RefreshRequest(refresh_token=tokens.refresh_token)
    )
    assert isinstance(fresh, TokenResponse), fresh
    authed = AuthenticatedClient(base_url=url, token=fresh.access_token)
    me = api_v1_auth_me_retrieve.sync(client=authed)
    sessions = api_v1_auth_sessions_list.sync(client=authed)
    print(json.dumps({
        "registered": user.username, "me": me.username, "role": getattr(me.role, "value", me.role),
        "sessions": [{"id": str(s.id), "current": s.current} for s in sessions],
        "token_type": getattr(fresh.token_type, "value", fresh.token_type),
    }))
    """
)


@pytest.mark.live
def test_client_generated_from_the_schema_registers_logs_in_refreshes_and_reads(live_gunicorn, tmp_path):
    schema = live_gunicorn.get("/api/schema?format=json")
    assert schema.status_code == 200
    (tmp_path / "schema.json").write_text(schema.text)
    generated = tmp_path / "client"
    subprocess.run(
        [sys.executable, "-m", "openapi_python_client", "generate", "--path", str(tmp_path / "schema.json"),
         "--output-path", str(generated), "--meta", "setup"],
        check=True, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PATH": f"{os.path.dirname(sys.executable)}:{os.environ.get('PATH', '')}"},
    )  # fmt: skip
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    installed = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         str(generated)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr[-3000:]
    (tmp_path / "use_client.py").write_text(SCRIPT)
    ran = subprocess.run(
        [str(venv / "bin" / "python"), str(tmp_path / "use_client.py"), live_gunicorn.url],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr[-3000:]
    result = json.loads(ran.stdout)
    assert result["registered"] == result["me"] == "generated"
    assert result["role"] == "user"
    assert result["token_type"] == "bearer"
    assert len(result["sessions"]) == 1 and result["sessions"][0]["current"] is True
