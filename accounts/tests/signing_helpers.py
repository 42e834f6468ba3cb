"""Tokens signed the way Gatehouse signs them, so a test changes only what it means to test."""

import jwt

from accounts import signing


def sign_as_gatehouse(payload: dict, *, headers: dict | None = None) -> str:
    """Signed with the key that signs now, its kid in the header (extra headers may override)."""
    key = signing.signer()
    return jwt.encode(
        payload, key.signing, algorithm=key.algorithm, headers={"kid": key.kid, **(headers or {})}
    )


def decode_with_jwks(token: str, api_client, *, audience: str, issuer: str) -> dict:
    """Checked as a resource server would: the key from /.well-known/jwks.json by the token's kid."""
    kid = jwt.get_unverified_header(token)["kid"]
    jwks = api_client.get("/.well-known/jwks.json").json()
    jwk = next(key for key in jwks["keys"] if key["kid"] == kid)
    public_key = jwt.PyJWK(jwk)
    return jwt.decode(token, public_key, algorithms=[jwk["alg"]], audience=audience, issuer=issuer)
