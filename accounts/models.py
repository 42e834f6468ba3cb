import uuid

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

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
        user = self.model(username=username, email=self.normalize_email(email), **extra)
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
            models.Index(fields=["-date_joined"], name="accounts_user_joined_idx"),
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
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=32, choices=RevokeReason.choices, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True, default="")

    class Meta:
        indexes = [
            models.Index(fields=["user", "-created_at"], name="accounts_session_user_idx"),
            models.Index(fields=["expires_at"], name="accounts_session_expires_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.id}"

    def is_live(self, now=None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and self.expires_at > now


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
