"""JWT signing keys: the key store shared through the database, its per-process cache,
bootstrap, rotation and retirement.

Every process keeps the key set in memory and re-reads the (tiny) key table at most once per
JWT_KEYSET_REFRESH_SECONDS, so signing and verifying cost no query in steady state and a
rotation or retirement reaches every process within about a second.

Timeline: keys sign in order of `activates_at`; a key signs until the next one activates
(its "superseded" time) and verifies, and stays in the JWKS, until every token it signed has
expired (superseded + the longest token lifetime), unless it is retired first. Private keys
are stored encrypted with MultiFernet; an HS256 row stores no secret (JWT_SIGNING_KEY is it).
"""

import base64
import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connection, transaction
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from accounts.models import SigningAlgorithm, SigningKey
from audit.models import Event
from audit.services import audit_record
from core.request import RequestMeta

logger = logging.getLogger("gatehouse.signing")

UNKNOWN_KID = "no signing key with kid {kid!r}"
ALREADY_RETIRED = "key {kid!r} is already retired"
HS256_ROTATE = (
    "JWT_ALGORITHM is HS256: its key is JWT_SIGNING_KEY; set a new JWT_SIGNING_KEY to replace it "
    "(that ends every session signed with the old one)"
)
HS256_RETIRE_SIGNING = (
    "key {kid!r} is JWT_SIGNING_KEY, which signs in HS256 mode: set a new JWT_SIGNING_KEY instead"
)
HS256_KEY_RETIRED = "the key of this JWT_SIGNING_KEY was retired: set a new JWT_SIGNING_KEY"
HS256_KEY_MISSING = "JWT_ALGORITHM is HS256 but JWT_SIGNING_KEY is not set"

# pg_advisory_xact_lock id serialising key creation across processes and hosts.
KEY_TABLE_LOCK = 0x4A574B53  # "JWKS"
HKDF_INFO = b"gatehouse jwt private-key encryption"
RSA_KEY_BITS = 2048


class SigningKeyError(Exception):
    """A key operation that cannot be done; `message` is one line for the operator."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


# --- Key-encryption keys ------------------------------------------------------------


def derived_kek(secret: str) -> str:
    """The Fernet key used when JWT_KEY_ENCRYPTION_KEYS is unset: HKDF-SHA256 of the secret key."""
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=HKDF_INFO).derive(secret.encode())
    return base64.urlsafe_b64encode(raw).decode()


@lru_cache(maxsize=8)
def _multifernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key) for key in keys])


def kek() -> MultiFernet:
    """First key encrypts, every key decrypts (rotation: prepend a new key, run `jwt_keys rewrap`)."""
    keys = tuple(settings.JWT_KEY_ENCRYPTION_KEYS) or (derived_kek(settings.SECRET_KEY),)
    return _multifernet(keys)


# --- Keys and their public forms ----------------------------------------------------------


def hs256_kid(secret: str) -> str:
    """The kid of JWT_SIGNING_KEY: a domain-separated hash, never the secret."""
    digest = hashlib.sha256(b"gatehouse hs256 kid\x00" + secret.encode()).digest()
    return "hs256-" + base64.urlsafe_b64encode(digest[:18]).decode()


PUBLIC_JWK_MEMBERS = {"OKP": ("kty", "crv", "x"), "EC": ("kty", "crv", "x", "y"), "RSA": ("kty", "n", "e")}


def public_jwk(algorithm: str, public_key) -> dict:
    """The public parameters only (kty, crv/x/y or n/e), encoded by PyJWT; `use` is added by
    the caller, so PyJWT's `key_ops` is left out (RFC 7517 4.3: not both)."""
    if algorithm == SigningAlgorithm.EDDSA:
        jwk = OKPAlgorithm.to_jwk(public_key, as_dict=True)
    elif algorithm == SigningAlgorithm.ES256:
        jwk = ECAlgorithm.to_jwk(public_key, as_dict=True)
    else:
        jwk = RSAAlgorithm.to_jwk(public_key, as_dict=True)
    return {member: jwk[member] for member in PUBLIC_JWK_MEMBERS[jwk["kty"]]}


def jwk_thumbprint(jwk: dict) -> str:
    """RFC 7638 thumbprint (SHA-256): a kid that names the public key itself."""
    required = PUBLIC_JWK_MEMBERS[jwk["kty"]]
    canonical = json.dumps({m: jwk[m] for m in required}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()


def asymmetric_kid(algorithm: str, public_key) -> str:
    """`<algorithm>-<RFC 7638 thumbprint>`: names the key, and never starts with "-" (which a
    command line would take for an option)."""
    return f"{algorithm.lower()}-{jwk_thumbprint(public_jwk(algorithm, public_key))}"


def _generate_private_key(algorithm: str):
    if algorithm == SigningAlgorithm.EDDSA:
        return ed25519.Ed25519PrivateKey.generate()
    if algorithm == SigningAlgorithm.ES256:
        return ec.generate_private_key(ec.SECP256R1())
    if algorithm == SigningAlgorithm.RS256:
        return rsa.generate_private_key(public_exponent=65537, key_size=RSA_KEY_BITS)
    raise ValueError(f"cannot generate a key for {algorithm}")


@dataclass(frozen=True)
class Key:
    kid: str
    algorithm: str
    activates_at: float  # epoch seconds
    order: tuple
    verifying: Any  # public key object, or the HS256 secret
    signing: Any  # private key object, HS256 secret, or None (cannot sign here)
    jwk: dict | None = None  # what the JWKS publishes; None for HS256


@lru_cache(maxsize=64)
def _crypto_material(kid: str, algorithm: str, public_pem: str, encrypted: str, keks: tuple) -> tuple:
    """(public key, private key or None, jwk) of a stored key; parsed once per process."""
    public_key = serialization.load_pem_public_key(public_pem.encode())
    jwk = {**public_jwk(algorithm, public_key), "kid": kid, "alg": algorithm, "use": "sig"}
    private_key = None
    try:
        der = kek().decrypt(encrypted.encode())
        private_key = serialization.load_der_private_key(der, password=None)
    except (InvalidToken, ValueError):
        logger.error("signing key %s: private key cannot be decrypted with JWT_KEY_ENCRYPTION_KEYS", kid)
    return public_key, private_key, jwk


def _key_from_row(row: SigningKey, secret: str) -> Key | None:
    order = (row.activates_at.timestamp(), row.pk)
    if row.algorithm == SigningAlgorithm.HS256:
        if not secret or row.kid != hs256_kid(secret):
            return None  # a former JWT_SIGNING_KEY: nothing here can check its tokens
        return Key(row.kid, row.algorithm, order[0], order, verifying=secret, signing=secret)
    keks = tuple(settings.JWT_KEY_ENCRYPTION_KEYS) or (settings.SECRET_KEY,)
    public_key, private_key, jwk = _crypto_material(
        row.kid, row.algorithm, row.public_key, row.private_key_encrypted, keks
    )
    return Key(row.kid, row.algorithm, order[0], order, verifying=public_key, signing=private_key, jwk=jwk)


def max_token_lifetime() -> float:
    return float(
        max(
            settings.ACCESS_TOKEN_LIFETIME_SECONDS,
            settings.REFRESH_TOKEN_LIFETIME_SECONDS,
            settings.REFRESH_TOKEN_REMEMBER_ME_SECONDS,
        )
    )


# --- The key set as one process sees it ------------------------------------------------------


@dataclass
class KeySet:
    timeline: list[Key]  # non-retired keys usable here, by activation
    verifiers: dict[str | None, Key]  # kid -> key; None: legacy tokens without a kid
    retired: set[str]
    superseded: dict[str, float]
    loaded_at: float = field(default_factory=time.monotonic)
    jwks_json: bytes = b'{"keys": []}'

    def signer(self, now: float) -> Key | None:
        current = None
        for key in self.timeline:
            if key.signing is not None and key.activates_at <= now:
                current = key
        return current

    def live_key_for(self, algorithm: str, secret: str) -> Key | None:
        """The newest key of `algorithm` that signs now or is about to (not yet superseded).

        Processes configured for different algorithms (a rolling deploy of a switch) each
        find their own key live until the other's activates, so they add at most one key per
        JWT_KEY_PUBLISH_SECONDS between them, never one per request.
        """
        live = None
        for key in self.timeline:
            if key.signing is None or key.kid in self.superseded or key.algorithm != algorithm:
                continue
            if algorithm == SigningAlgorithm.HS256 and key.kid != hs256_kid(secret):
                continue
            live = key
        return live

    def needs_key_for(self, algorithm: str, secret: str) -> bool:
        return self.live_key_for(algorithm, secret) is None

    def verifier(self, kid: str | None) -> Key | None:
        return self.verifiers.get(kid)


def keyset_build(rows: list[SigningKey], now: float) -> KeySet:
    secret = settings.JWT_SIGNING_KEY
    retired = {row.kid for row in rows if row.retired_at is not None}
    timeline = sorted(
        (key for row in rows if row.retired_at is None if (key := _key_from_row(row, secret)) is not None),
        key=lambda key: key.order,
    )
    signable = [key for key in timeline if key.signing is not None]
    lifetime = max_token_lifetime()
    verifiers: dict[str | None, Key] = {}
    superseded: dict[str, float] = {}
    for key in timeline:
        after = next(
            (s.activates_at for s in signable if s.order > key.order and s.activates_at <= now), None
        )
        if after is not None:
            superseded[key.kid] = after
        if after is None or after + lifetime > now:
            verifiers[key.kid] = key
    if secret:
        kid = hs256_kid(secret)
        if kid not in retired:
            hs_key = next((key for key in timeline if key.kid == kid), None) or Key(
                kid, SigningAlgorithm.HS256, 0.0, (0.0, 0), verifying=secret, signing=None
            )
            verifiers[kid] = hs_key
            # Tokens issued before keys had kids were HS256 with this secret.
            verifiers[None] = hs_key
    jwks = [key.jwk for kid, key in verifiers.items() if kid is not None and key.jwk is not None]
    jwks.reverse()  # newest first
    return KeySet(
        timeline=timeline,
        verifiers=verifiers,
        retired=retired,
        superseded=superseded,
        jwks_json=json.dumps({"keys": jwks}, separators=(",", ":")).encode(),
    )


_current: KeySet | None = None


def _now() -> float:
    return time.time()


def keyset_invalidate() -> None:
    """Forget this process's key set: the next use re-reads the table."""
    global _current, _snapshot_written
    _current = None
    _snapshot_written = None


def keyset() -> KeySet:
    """This process's key set, re-read from the database at most once per refresh interval."""
    global _current
    current = _current
    if current is not None and time.monotonic() - current.loaded_at < settings.JWT_KEYSET_REFRESH_SECONDS:
        return current
    try:
        return _reload()
    except DatabaseError:
        if connection.in_atomic_block:
            raise
        # Database down: keep the keys we know (tokens keep working) and try again later; a
        # process that knows none verifies with the public keys other processes shared.
        logger.warning("signing keys: database unavailable, using the last key set seen")
        if current is None:
            snapshot = cache.get(SNAPSHOT_CACHE_KEY)
            if not snapshot:
                raise
            current = keyset_build([SigningKey(**fields) for fields in snapshot], _now())
            _current = current
        current.loaded_at = time.monotonic()
        return current


# An unknown kid may be a key another process made moments ago (a first key, a rotation whose
# publish window is shorter than our refresh interval): re-read the table before refusing, at
# most this often, so forged kids cannot turn every request into a query.
UNKNOWN_KID_RELOAD_SECONDS = 0.05


def verifier_for(kid: str | None) -> "Key | None":
    """The key that checks tokens signed under `kid`, or None (unknown or retired)."""
    current = keyset()
    key = current.verifier(kid)
    if (
        key is None
        and kid is not None
        and kid not in current.retired
        and time.monotonic() - current.loaded_at >= UNKNOWN_KID_RELOAD_SECONDS
    ):
        try:
            key = _reload().verifier(kid)
        except DatabaseError:
            if connection.in_atomic_block:
                raise
            return None
    return key


# Verification data only (kid, algorithm, public key, times): what a process that starts while
# the database is down needs to keep checking tokens. Written when the table changes.
SNAPSHOT_CACHE_KEY = "signing:keyset"
SNAPSHOT_FIELDS = ("id", "kid", "algorithm", "public_key", "created_at", "activates_at", "retired_at")
_snapshot_written: tuple | None = None


def _reload() -> KeySet:
    global _current, _snapshot_written
    rows = list(SigningKey.objects.all())
    fresh = _current = keyset_build(rows, _now())
    fingerprint = tuple((row.kid, row.activates_at, row.retired_at) for row in rows)
    if fingerprint != _snapshot_written:
        snapshot = [{field: getattr(row, field) for field in SNAPSHOT_FIELDS} for row in rows]
        cache.set(SNAPSHOT_CACHE_KEY, snapshot, timeout=None)
        _snapshot_written = fingerprint
    return fresh


def signer() -> Key:
    """The key that signs now, creating the first key of the configured algorithm if needed."""
    algorithm, secret = settings.JWT_ALGORITHM, settings.JWT_SIGNING_KEY
    if algorithm == SigningAlgorithm.HS256 and not secret:
        raise ImproperlyConfigured(HS256_KEY_MISSING)
    current = keyset()
    if current.needs_key_for(algorithm, secret):
        current = signing_key_ensure()
    key = current.signer(_now())
    if key is None:  # the newest key cannot sign here (e.g. undecryptable): make one that can
        key = signing_key_ensure(activate_now=True).signer(_now())
    if key is None:
        raise ImproperlyConfigured("no JWT signing key can be used; see `manage.py jwt_keys list`")
    return key


# --- Writes -------------------------------------------------------------------------------


def _lock_key_table() -> None:
    """Serialise key creation: two workers starting at once must end with one new key."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [KEY_TABLE_LOCK])
    # SQLite (local development) lets one writer at a time through the whole database.


def _locked_keyset() -> tuple[KeySet, list[SigningKey]]:
    _lock_key_table()
    rows = list(SigningKey.objects.all())
    return keyset_build(rows, _now()), rows


def _when(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


def _key_create(*, algorithm: str, activate_now: bool, current: KeySet, rows: list[SigningKey]) -> SigningKey:
    now = _now()
    publish = 0 if activate_now or current.signer(now) is None else settings.JWT_KEY_PUBLISH_SECONDS
    if algorithm == SigningAlgorithm.HS256:
        # Nothing to publish: an HS256 key signs at once. Its row holds no secret.
        kid = hs256_kid(settings.JWT_SIGNING_KEY)
        existing = next((row for row in rows if row.kid == kid), None)
        if existing is not None:
            if existing.retired_at is not None:
                raise SigningKeyError(HS256_KEY_RETIRED)
            existing.activates_at = _when(now)
            existing.save(update_fields=["activates_at"])
            return existing
        return SigningKey.objects.create(kid=kid, algorithm=algorithm, activates_at=_when(now))
    private_key = _generate_private_key(algorithm)
    public_key = private_key.public_key()
    der = private_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return SigningKey.objects.create(
        kid=asymmetric_kid(algorithm, public_key),
        algorithm=algorithm,
        public_key=public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode(),
        private_key_encrypted=kek().encrypt(der).decode(),
        activates_at=_when(now + publish),
    )


def _invalidate_now_and_on_commit() -> None:
    keyset_invalidate()
    transaction.on_commit(keyset_invalidate)


def signing_key_ensure(*, activate_now: bool = False) -> KeySet:
    """Create a key of JWT_ALGORITHM unless one is already signing or about to (race-safe).

    A fresh install's first key signs at once; after an algorithm switch the new key is
    published first and signs after JWT_KEY_PUBLISH_SECONDS, the old one signing meanwhile.
    Returns the key set read afresh (this process's cache is replaced by it).
    """
    algorithm, secret = settings.JWT_ALGORITHM, settings.JWT_SIGNING_KEY
    with transaction.atomic():
        current, rows = _locked_keyset()
        if current.needs_key_for(algorithm, secret):
            created = _key_create(algorithm=algorithm, activate_now=activate_now, current=current, rows=rows)
            logger.info(
                "signing key %s (%s) created, signs from %s", created.kid, algorithm, created.activates_at
            )
        elif activate_now and current.signer(_now()) is None:
            # Nothing can sign now but a key of JWT_ALGORITHM is pending: let it start.
            kid = current.live_key_for(algorithm, secret).kid
            SigningKey.objects.filter(kid=kid).update(activates_at=_when(_now()))
    transaction.on_commit(keyset_invalidate)
    return _reload()


def signing_key_rotate(*, meta: RequestMeta) -> SigningKey:
    """A new key of JWT_ALGORITHM: published at once, signs after JWT_KEY_PUBLISH_SECONDS."""
    algorithm = settings.JWT_ALGORITHM
    if algorithm == SigningAlgorithm.HS256:
        raise SigningKeyError(HS256_ROTATE)
    with transaction.atomic():
        current, rows = _locked_keyset()
        previous = current.signer(_now())
        key = _key_create(algorithm=algorithm, activate_now=False, current=current, rows=rows)
        audit_record(
            event=Event.JWT_KEY_ROTATED,
            meta=meta,
            target_label=f"jwt key {key.kid}",
            details={
                "kid": key.kid,
                "algorithm": algorithm,
                "activates_at": key.activates_at.isoformat(),
                "previous_kid": previous.kid if previous else None,
            },
        )
    _invalidate_now_and_on_commit()
    return key


def signing_key_retire(*, kid: str, meta: RequestMeta) -> tuple[SigningKey, SigningKey | None]:
    """Emergency: the key leaves the JWKS and its tokens fail at once (within a second in every
    process). Retiring the key that signs now puts a fresh key of JWT_ALGORITHM in its place at
    once (a pending one if there is one). Returns (retired key, replacement or None)."""
    secret = settings.JWT_SIGNING_KEY
    with transaction.atomic():
        current, rows = _locked_keyset()
        row = next((r for r in rows if r.kid == kid), None)
        if row is None and secret and kid == hs256_kid(secret):
            # JWT_SIGNING_KEY verifying legacy tokens without ever having signed here.
            row = SigningKey.objects.create(kid=kid, algorithm=SigningAlgorithm.HS256, activates_at=_when(0))
            rows.append(row)
        if row is None:
            raise SigningKeyError(UNKNOWN_KID.format(kid=kid))
        if row.retired_at is not None:
            raise SigningKeyError(ALREADY_RETIRED.format(kid=kid))
        signing_now = current.signer(_now())
        is_signer = signing_now is not None and signing_now.kid == kid
        if is_signer and row.algorithm == SigningAlgorithm.HS256 and settings.JWT_ALGORITHM == row.algorithm:
            raise SigningKeyError(HS256_RETIRE_SIGNING.format(kid=kid))
        row.retired_at = _when(_now())
        row.save(update_fields=["retired_at"])
        replacement = None
        if is_signer:
            remaining = keyset_build(rows, _now())
            candidate = remaining.live_key_for(settings.JWT_ALGORITHM, secret)
            if candidate is not None and candidate.activates_at > _now():  # a rotation under way
                SigningKey.objects.filter(kid=candidate.kid).update(activates_at=row.retired_at)
                replacement = SigningKey.objects.get(kid=candidate.kid)
            else:
                replacement = _key_create(
                    algorithm=settings.JWT_ALGORITHM, activate_now=True, current=remaining, rows=rows
                )
        audit_record(
            event=Event.JWT_KEY_RETIRED,
            meta=meta,
            target_label=f"jwt key {kid}",
            details={
                "kid": kid,
                "algorithm": row.algorithm,
                "replacement_kid": replacement.kid if replacement else None,
            },
        )
    _invalidate_now_and_on_commit()
    return row, replacement


def signing_keys_rewrap() -> tuple[int, list[str]]:
    """Re-encrypt every stored private key with the first key-encryption key.

    Returns (how many were re-encrypted, kids that no configured key can decrypt)."""
    fernet = kek()
    rewrapped, failed = 0, []
    with transaction.atomic():
        _lock_key_table()
        for row in SigningKey.objects.select_for_update().exclude(private_key_encrypted=""):
            try:
                token = fernet.rotate(row.private_key_encrypted.encode()).decode()
            except InvalidToken:
                failed.append(row.kid)
                continue
            SigningKey.objects.filter(pk=row.pk).update(private_key_encrypted=token)
            rewrapped += 1
    _crypto_material.cache_clear()
    _invalidate_now_and_on_commit()
    return rewrapped, failed


# --- Reads ----------------------------------------------------------------------------------


def key_state(row: SigningKey, current: KeySet, now: float) -> str:
    """retired, pending, signing, verifying (its tokens still live), expired or unusable."""
    if row.retired_at is not None:
        return "retired"
    key = next((k for k in current.timeline if k.kid == row.kid), None)
    if key is None:
        return "unusable"  # a former JWT_SIGNING_KEY
    if key.activates_at > now:
        return "pending"
    signer_key = current.signer(now)
    if signer_key is not None and signer_key.kid == row.kid:
        return "signing"
    return "verifying" if row.kid in current.verifiers else "expired"


def signing_key_list() -> list[tuple[SigningKey, str, datetime | None]]:
    """Every stored key with its state and, once superseded, when its last token expires."""
    rows = list(SigningKey.objects.all())
    now = _now()
    current = keyset_build(rows, now)
    lifetime = max_token_lifetime()
    listing = []
    for row in rows:
        superseded = current.superseded.get(row.kid)
        until = _when(superseded + lifetime) if superseded is not None else None
        listing.append((row, key_state(row, current, now), until))
    return listing


def jwks_document() -> bytes:
    return keyset().jwks_json
