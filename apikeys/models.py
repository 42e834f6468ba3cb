from django.conf import settings
from django.db import models
from django.utils import timezone


class APIKey(models.Model):
    """A program's credential: `gk_<prefix>_<secret>`. Only a keyed hash of the secret is kept."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    # HMAC-SHA256(pepper, secret), hex. Never the key itself.
    secret_hash = models.CharField(max_length=64)
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    rate_limit = models.CharField(max_length=20, blank=True, default="")
    # The key this one was created with, if any: revoking a key revokes what it minted.
    created_by_key = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="minted_keys"
    )

    class Meta:
        verbose_name = "API key"
        indexes = [
            models.Index(fields=["owner", "-created_at"], name="apikeys_owner_idx"),
            models.Index(fields=["expires_at"], name="apikeys_expires_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix})"

    def is_usable(self, now=None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)
