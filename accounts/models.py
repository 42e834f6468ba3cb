import uuid

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.sessions.base_session import AbstractBaseSession
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from accounts.emails import email_normalize
from accounts.roles import Role, has_staff_access

# No "@" so a login identifier is unambiguously a username or an email address.
username_validator = RegexValidator(
    r"^[A-Za-z0-9_.-]{3,150}\Z",
    "Use 3 to 150 letters, digits, dots, dashes or underscores.",
    code="invalid_username",
)


class UserManager(BaseUserManager):
    use_in_migrations = True

    def get_by_natural_key(self, username: str) -> "User":
        return self.alias(username_lower=Lower("username")).get(username_lower=username.lower())

    def create_user(self, username: str, email: str, password: str | None = None, **extra) -> "User":
        """Django's plain hook. Gatehouse creates accounts with accounts.services.users.user_create
        (validated and audited); `manage.py createsuperuser` goes through it too."""
        user = self.model(username=username, email=email_normalize(email), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, username: str, email: str, password: str | None = None, **extra) -> "User":
        extra["role"] = Role.ADMIN
        return self.create_user(username, email, password, **extra)


class User(AbstractBaseUser):
    """An account. Its role is the single source of its powers, Django admin access included."""

    username = models.CharField(max_length=150, validators=[username_validator])
    email = models.EmailField(max_length=254)
    full_name = models.CharField(max_length=150, blank=True, default="")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.USER)
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)
    # Kept by accounts.services.mfa with the device in one transaction, so the cached user
    # snapshot (and every rendering of the user) knows it without a query.
    mfa_enabled = models.BooleanField(default=False)
    # Proved by opening the link mailed to `email` (accounts.services.verification).
    email_verified = models.BooleanField(default=False)

    objects = UserManager()

    USERNAME_FIELD = "username"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["email"]

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("username"), name="accounts_user_username_ci_unique"),
            models.UniqueConstraint(Lower("email"), name="accounts_user_email_ci_unique"),
        ]
        indexes = [
            models.Index(fields=["role"], name="accounts_user_role_idx"),
            # Newest first with the key (the admin's and the admin API's order): deep pages are
            # an index-only scan (core.pagination).
            models.Index(fields=["-date_joined", "-id"], name="accounts_user_joined_id_idx"),
            # On PostgreSQL, migration 0011 also adds trigram indexes (pg_trgm) for the admin's
            # "contains" search on username, email and full name; they are not in this state.
        ]

    def __str__(self) -> str:
        return self.username

    # Django admin asks these; accounts.roles decides.
    @property
    def is_staff(self) -> bool:
        return has_staff_access(role=self.role, is_active=self.is_active)

    @property
    def is_superuser(self) -> bool:
        return self.is_staff

    def has_perm(self, perm: str, obj=None) -> bool:
        return self.is_staff

    def has_perms(self, perm_list, obj=None) -> bool:
        return self.is_staff

    def has_module_perms(self, app_label: str) -> bool:
        return self.is_staff


class RevokeReason(models.TextChoices):
    LOGOUT = "logout", "Logged out"
    LOGOUT_ALL = "logout_all", "Logged out everywhere"
    USER = "user", "Revoked by the user"
    PASSWORD_CHANGE = "password_change", "Password changed"
    PASSWORD_RESET = "password_reset", "Password reset"
    TOKEN_REUSE = "token_reuse", "Refresh token reused"
    ADMIN = "admin", "Revoked by staff"
    DEACTIVATED = "deactivated", "Account deactivated"
    DELETED = "deleted", "Account deleted"
    BLACKLISTED = "blacklisted", "Refresh token blacklisted by staff"
    PASSWORD_GUESSING = "password_guessing", "Too many wrong current passwords"


class Session(models.Model):
    """One login. Every token pair descended from that login carries its id as `sid`."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="auth_sessions")
    # The jti of the one refresh token that may be used next; rotation swaps it atomically.
    refresh_jti = models.CharField(max_length=64)
    remember_me = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    # However often it refreshes, the session ends here (SESSION_ABSOLUTE_*_SECONDS after login).
    absolute_expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=32, choices=RevokeReason.choices, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True, default="")
    # How the login proved who it was (RFC 8176 values, space-separated): "pwd" or "pwd otp".
    amr = models.CharField(max_length=32, default="pwd")

    class Meta:
        indexes = [
            models.Index(fields=["user", "-created_at"], name="accounts_session_user_idx"),
            models.Index(fields=["expires_at"], name="accounts_session_expires_idx"),
            # The admin's Sessions page: newest first, and its exact-IP search.
            models.Index(fields=["-created_at", "-id"], name="accounts_session_created_idx"),
            models.Index(fields=["ip_address"], name="accounts_session_ip_idx"),
            # Its "revoked reason" filter; partial, so live sessions (refreshed all the time)
            # never write to it.
            models.Index(
                fields=["revoked_reason", "-created_at", "-id"],
                condition=~models.Q(revoked_reason=""),
                name="accounts_session_reason_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.id}"

    def is_live(self, now=None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and self.expires_at > now and self.absolute_expires_at > now


class SigningAlgorithm(models.TextChoices):
    EDDSA = "EdDSA", "EdDSA (Ed25519)"
    ES256 = "ES256", "ES256 (ECDSA P-256)"
    RS256 = "RS256", "RS256 (RSA 2048)"
    HS256 = "HS256", "HS256 (JWT_SIGNING_KEY)"


class SigningKey(models.Model):
    """A JWT signing key, shared by every process and host through the database.

    The private key is stored only encrypted (Fernet, key-encryption keys from
    JWT_KEY_ENCRYPTION_KEYS). An HS256 row stores no secret at all: its secret is
    JWT_SIGNING_KEY and its kid a hash of it. A key signs from `activates_at` until the next
    key activates, and verifies until its tokens have expired or it is retired.
    """

    kid = models.CharField(max_length=64, unique=True)
    algorithm = models.CharField(max_length=8, choices=SigningAlgorithm.choices)
    public_key = models.TextField(blank=True, default="")  # PEM (SubjectPublicKeyInfo)
    private_key_encrypted = models.TextField(blank=True, default="")  # Fernet token of the PKCS#8 DER
    created_at = models.DateTimeField(default=timezone.now)
    activates_at = models.DateTimeField()
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["activates_at", "id"]

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.kid}"


class CookieSession(AbstractBaseSession):
    """A Django cookie session (the admin, the HTML pages) that knows its user, so revoking a
    user's sessions can end their admin logins with one indexed DELETE (SESSION_ENGINE is
    accounts.cookie_sessions)."""

    user_id = models.BigIntegerField(null=True, blank=True, db_index=True)


class RecoveryCode(models.Model):
    """One single-use MFA recovery code, kept only as a keyed hash (HMAC-SHA256 under a key
    derived from the Django secret): the codes are random, so a slow hash adds nothing."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="recovery_codes")
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "code_hash"], name="accounts_recoverycode_unique"),
        ]

    def __str__(self) -> str:
        return f"recovery code of {self.user_id}"


class MfaChallenge(models.Model):
    """The second step of a login: a password was right, a code is still owed.

    The client holds `<id>.<secret>`; the row keeps the secret's keyed hash and counts wrong
    codes with row-locked updates, so every process sees the same count.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    secret_hash = models.CharField(max_length=64)
    # A keyed hash of the password hash the first step verified: a password change in
    # between makes the challenge worthless.
    password_marker = models.CharField(max_length=64)
    remember_me = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["expires_at"], name="accounts_mfachallenge_exp_idx")]

    def __str__(self) -> str:
        return f"mfa challenge {self.pk}"


class PasswordHistory(models.Model):
    """A password hash the user has had (never the password): PASSWORD_HISTORY_COUNT per user."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    password = models.CharField(max_length=128)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["user", "-created_at"], name="accounts_pwhistory_user_idx")]

    def __str__(self) -> str:
        return f"password history of {self.user_id}"


class KnownLoginAddress(models.Model):
    """An address an account has logged in from successfully, as lockout counts addresses (an
    IPv4 address or an IPv6 prefix, core.request.ip_bucket). When the account is under attack
    from many addresses (AXES_ACCOUNT_FAILURE_LIMIT), these still work: the owner is not locked
    out by someone else's guessing."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="known_login_addresses")
    ip_bucket = models.GenericIPAddressField()
    last_seen = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "ip_bucket"], name="accounts_known_address_unique"),
        ]
        # auth_cleanup removes addresses unused for KNOWN_ADDRESS_RETENTION_DAYS, by this index.
        indexes = [models.Index(fields=["last_seen"], name="accounts_known_seen_idx")]

    def __str__(self) -> str:
        return f"{self.user_id}@{self.ip_bucket}"


class LockKind(models.TextChoices):
    """Which lock refused a login (README, Lockout and rate limits)."""

    PAIR = "pair", "Name from one address"
    IP = "ip", "Address, any names"
    ACCOUNT = "account", "Account, from new addresses"


class LockoutEpisode(models.Model):
    """One row per lock (kind, name, address) while it holds: the database guard that makes a
    lockout audited exactly once, however many concurrent failures cross the limit together.
    The row is claimed (inserted, or taken over once expired) by exactly one failure; later
    failures while locked push `expires_at` on, as they push the cool-off on."""

    kind = models.CharField(max_length=8, choices=LockKind.choices)
    username = models.CharField(max_length=255, blank=True, default="")
    ip_bucket = models.CharField(max_length=64, blank=True, default="")
    locked_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "username", "ip_bucket"], name="accounts_lockout_episode_unique"
            ),
        ]
        indexes = [models.Index(fields=["username"], name="accounts_lockout_username_idx")]

    def __str__(self) -> str:
        return f"{self.kind}:{self.username}@{self.ip_bucket}"
