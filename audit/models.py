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
    PASSWORD_CHANGE_FAILED = "password.change_failed", "Wrong current password at a password change"
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
    JWT_KEY_ROTATED = "jwt_key.rotated", "JWT signing key rotated"
    JWT_KEY_RETIRED = "jwt_key.retired", "JWT signing key retired"


class Outcome(models.TextChoices):
    SUCCESS = "success", "Success"
    FAILURE = "failure", "Failure"


class AuditEvent(models.Model):
    """One security event. Rows are only ever inserted; `hash` chains each to the one before
    in its chain. The global order (API, admin, export) is `id`."""

    # Which of the AUDIT_CHAINS hash chains holds the event (see audit.services.chain_for).
    chain = models.PositiveSmallIntegerField(default=0)
    # Position in its chain: gap-free, assigned under that chain head's lock.
    seq = models.BigIntegerField()
    # 1: the single-chain formula (events written before chains existed); 2: it covers `chain`.
    hash_version = models.PositiveSmallIntegerField(default=2)
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
        ordering = ["-id"]
        constraints = [
            # Also the index audit_verify and audit_prune walk each chain by.
            models.UniqueConstraint(fields=["chain", "seq"], name="audit_chain_seq_uniq"),
        ]
        indexes = [
            models.Index(fields=["timestamp"], name="audit_timestamp_idx"),
            # The admin's security overview: counts per event over a time range.
            models.Index(fields=["event", "timestamp"], name="audit_event_timestamp_idx"),
            models.Index(fields=["event", "-id"], name="audit_event_id_idx"),
            models.Index(fields=["actor_label", "-id"], name="audit_actor_label_id_idx"),
            models.Index(fields=["target_label", "-id"], name="audit_target_label_id_idx"),
            models.Index(fields=["actor_ref", "-id"], name="audit_actor_ref_id_idx"),
            models.Index(fields=["target_ref", "-id"], name="audit_target_ref_id_idx"),
            models.Index(fields=["ip_address"], name="audit_ip_idx"),
            models.Index(fields=["request_id"], name="audit_request_id_idx"),
            models.Index(fields=["outcome", "-id"], name="audit_outcome_id_idx"),
            models.Index(fields=["actor_kind", "-id"], name="audit_actor_kind_id_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.id} ({self.chain}:{self.seq}) {self.event} {self.outcome}"


class AuditChainHead(models.Model):
    """One per chain (id = chain number), locked by the writers of that chain only: the last
    event's seq and hash, and where the verifiable part of the chain starts (moved by pruning)."""

    id = models.PositiveSmallIntegerField(primary_key=True)
    last_seq = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default="0" * 64)
    anchor_seq = models.BigIntegerField(default=0)
    anchor_hash = models.CharField(max_length=64, default="0" * 64)

    def __str__(self) -> str:
        return f"chain {self.id} head at #{self.last_seq}"
