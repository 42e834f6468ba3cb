from django.conf import settings
from django.db import models
from django.utils import timezone

from core.request import ActorKind


class Event(models.TextChoices):
    USER_REGISTERED = "user.registered", "User registered"
    USER_CREATED = "user.created", "User created by staff or operator"
    USER_UPDATED = "user.updated", "Profile changed"
    USER_ROLE_CHANGED = "user.role_changed", "Role changed"
    USER_DEACTIVATED = "user.deactivated", "User deactivated"
    USER_ACTIVATED = "user.activated", "User activated"
    USER_DELETED = "user.deleted", "User deleted"
    LOGIN_SUCCEEDED = "auth.login_succeeded", "Login succeeded"
    LOGIN_FAILED = "auth.login_failed", "Login failed"
    LOCKED_OUT = "auth.locked_out", "Locked out"
    UNLOCKED = "auth.unlocked", "Unlocked"
    LOGOUT = "auth.logout", "Logged out"
    TOKEN_REFRESHED = "token.refreshed", "Token refreshed"
    TOKEN_REUSED = "token.reused", "Refresh token reused"
    SESSION_REVOKED = "session.revoked", "Session revoked"
    PASSWORD_CHANGED = "password.changed", "Password changed"
    PASSWORD_RESET_REQUESTED = "password.reset_requested", "Password reset requested"
    PASSWORD_RESET_COMPLETED = "password.reset_completed", "Password reset completed"
    APIKEY_CREATED = "apikey.created", "API key created"
    APIKEY_REVOKED = "apikey.revoked", "API key revoked"
    RATELIMIT_EXCEEDED = "ratelimit.exceeded", "Rate limit exceeded"
    MFA_ENABLED = "mfa.enabled", "MFA enabled"
    MFA_DISABLED = "mfa.disabled", "MFA disabled"
    MFA_RECOVERY_CODES_REGENERATED = "mfa.recovery_codes_regenerated", "MFA recovery codes regenerated"
    MFA_FAILED = "auth.mfa_failed", "MFA code refused"
    MFA_RESET = "mfa.reset", "MFA reset by an operator"
    EMAIL_VERIFIED = "email.verified", "Email address verified"
    AUDIT_PRUNED = "audit.pruned", "Audit log pruned"
    CLEANUP_RAN = "system.cleanup", "Expired records cleaned up"


class Outcome(models.TextChoices):
    SUCCESS = "success", "Success"
    FAILURE = "failure", "Failure"


class AuditEvent(models.Model):
    """One security event. Rows are only ever inserted; `hash` chains each to the one before."""

    # Position in the chain: gap-free, assigned under the chain-head lock.
    seq = models.BigIntegerField(unique=True)
    timestamp = models.DateTimeField(default=timezone.now)
    event = models.CharField(max_length=40, choices=Event.choices)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.SUCCESS)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The ids as they were when the event happened. The FKs above go NULL when a user is
    # deleted; these never change, so they (not the FKs) are covered by the hash.
    actor_ref = models.BigIntegerField(null=True, blank=True)
    actor_kind = models.CharField(max_length=12, choices=ActorKind.choices)
    # Text snapshots survive the deletion of the user.
    actor_label = models.CharField(max_length=200, blank=True, default="")
    target_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    target_ref = models.BigIntegerField(null=True, blank=True)
    target_label = models.CharField(max_length=200, blank=True, default="")
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True, default="")
    request_id = models.CharField(max_length=64, blank=True, default="")
    details = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["-seq"]
        indexes = [
            models.Index(fields=["timestamp"], name="audit_timestamp_idx"),
            models.Index(fields=["event", "-seq"], name="audit_event_seq_idx"),
            models.Index(fields=["actor_label", "-seq"], name="audit_actor_label_idx"),
            models.Index(fields=["target_label", "-seq"], name="audit_target_label_idx"),
            models.Index(fields=["actor_ref", "-seq"], name="audit_actor_ref_seq_idx"),
            models.Index(fields=["target_ref", "-seq"], name="audit_target_ref_seq_idx"),
            models.Index(fields=["ip_address"], name="audit_ip_idx"),
            models.Index(fields=["request_id"], name="audit_request_id_idx"),
            models.Index(fields=["outcome", "-seq"], name="audit_outcome_seq_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.event} {self.outcome}"


class AuditChainHead(models.Model):
    """The single row every writer locks: the last event's seq and hash, and where the
    verifiable part of the log starts (moved forward by pruning)."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    last_seq = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default="0" * 64)
    anchor_seq = models.BigIntegerField(default=0)
    anchor_hash = models.CharField(max_length=64, default="0" * 64)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="audit_single_chain_head")]

    def __str__(self) -> str:
        return f"chain head at #{self.last_seq}"
