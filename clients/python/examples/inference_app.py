"""A toy inference service that trusts Gatehouse: the README's FastAPI example, runnable.

    pip install -e 'clients/python[fastapi,test]'
    GATEHOUSE_URL=http://127.0.0.1:8000 GATEHOUSE_INTROSPECTION_KEY=gk_… \\
        uvicorn inference_app:app --app-dir clients/python/examples --port 8100

Routes:
- `GET /health`: open, `{"status": "ok"}`.
- `POST /predict` `{"inputs": [numbers]}` → `{"outputs": [running sums], "sub", "role", "verified_by"}`.
  Allowed when the credential is valid AND (its role is one of `INFERENCE_ROLES`, default
  `developer`, OR its scopes include `INFERENCE_SCOPE`, default `inference:predict`):
  - an access token is checked locally against the JWKS (or by introspection when
    `INFERENCE_INTROSPECT=true`); its role is the token's `role` claim, its scopes its role's.
  - an API key (`X-API-Key: gk_…` or `Authorization: Bearer gk_…`) is introspected (needs
    `GATEHOUSE_INTROSPECTION_KEY`, a key with scope `tokens:introspect`); it must be active,
    and then its OWNER's role counts (a developer's key passes whatever its scopes) or the
    key's own scopes from introspection. Gatehouse's scopes are a fixed list today, so
    `inference:predict` only matters once Gatehouse can grant it.
  No credential or a bad one: 401 `{"detail", "code"}` with `WWW-Authenticate: Bearer`;
  valid but not allowed: 403 `permission_denied`; Gatehouse unreachable: 503.
- `GET /whoami`: any valid credential; the Principal's fields (for checking a set-up).

Environment: `GATEHOUSE_URL` (default `http://127.0.0.1:8000`), `GATEHOUSE_AUDIENCE`
(`gatehouse-api`), `GATEHOUSE_ISSUER` (default: from the discovery document),
`GATEHOUSE_INTROSPECTION_KEY`, `GATEHOUSE_JWKS_URL` and `GATEHOUSE_INTROSPECTION_URL` (default: from
the discovery document, whose URLs Gatehouse builds from its `PUBLIC_BASE_URL`; set these when
that address is not reachable from here), `GATEHOUSE_INTROSPECTION_CACHE_SECONDS` (the
Verifier's `introspection_cache_seconds`, default 5: how long an introspection answer, and so a
revoked credential, is trusted here; `0` asks Gatehouse on every request),
`GATEHOUSE_JWKS_REFETCH_INTERVAL` (`jwks_refetch_interval`, default 60: the least time between
JWKS downloads caused by an unknown `kid`), `INFERENCE_ROLES`, `INFERENCE_SCOPE`,
`INFERENCE_INTROSPECT`.
"""

import itertools
import os
from typing import Annotated

from fastapi import Depends, FastAPI
from gatehouse_client import Principal, Verifier
from gatehouse_client.fastapi import authenticated, install_exception_handler, require
from pydantic import BaseModel, Field


class PredictRequest(BaseModel):
    inputs: list[float] = Field(max_length=1000)


def create_app(
    verifier: Verifier | None = None,
    *,
    roles: tuple[str, ...] | None = None,
    scope: str | None = None,
    introspect: bool | None = None,
) -> FastAPI:
    """The app; arguments left out come from the environment."""
    if verifier is None:
        # Unset tuning variables leave the Verifier's own defaults in force.
        tuning = {
            argument: float(os.environ[variable])
            for variable, argument in (
                ("GATEHOUSE_INTROSPECTION_CACHE_SECONDS", "introspection_cache_seconds"),
                ("GATEHOUSE_JWKS_REFETCH_INTERVAL", "jwks_refetch_interval"),
            )
            if os.environ.get(variable, "").strip()
        }
        verifier = Verifier(
            os.environ.get("GATEHOUSE_URL", "http://127.0.0.1:8000"),
            audience=os.environ.get("GATEHOUSE_AUDIENCE", "gatehouse-api"),
            introspection_key=os.environ.get("GATEHOUSE_INTROSPECTION_KEY") or None,
            issuer=os.environ.get("GATEHOUSE_ISSUER") or None,
            jwks_url=os.environ.get("GATEHOUSE_JWKS_URL") or None,
            introspection_url=os.environ.get("GATEHOUSE_INTROSPECTION_URL") or None,
            **tuning,
        )
    if roles is None:
        roles = tuple(
            role.strip() for role in os.environ.get("INFERENCE_ROLES", "developer").split(",") if role.strip()
        )
    if scope is None:
        scope = os.environ.get("INFERENCE_SCOPE", "inference:predict")
    if introspect is None:
        introspect = os.environ.get("INFERENCE_INTROSPECT", "false").lower() in ("1", "true", "yes")

    app = FastAPI(title="inference")
    install_exception_handler(app)
    may_predict = require(verifier, lambda p: p.has_role(*roles) or p.has_scope(scope), introspect=introspect)
    signed_in = authenticated(verifier, introspect=introspect)

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok"}

    @app.post("/predict")
    def predict(body: PredictRequest, principal: Annotated[Principal, Depends(may_predict)]) -> dict:
        return {
            "outputs": list(itertools.accumulate(body.inputs)),
            "sub": principal.sub,
            "role": principal.role,
            "verified_by": principal.verified_by,
        }

    @app.get("/whoami")
    def whoami(principal: Annotated[Principal, Depends(signed_in)]) -> dict:
        return {
            "sub": principal.sub,
            "username": principal.username,
            "role": principal.role,
            "scopes": sorted(principal.scopes),
            "token_type": principal.token_type,
            "verified_by": principal.verified_by,
            "session_id": principal.session_id,
            "key_prefix": principal.key_prefix,
            "expires_at": principal.expires_at.isoformat() if principal.expires_at else None,
        }

    return app


app = create_app()

if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host=os.environ.get("HOST", "127.0.0.1"), port=int(os.environ.get("PORT", "8100")))
