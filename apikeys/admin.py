from django.contrib import admin, messages
from django.utils import timezone

from apikeys import services
from apikeys.models import APIKey
from core.request import RequestMeta


class KeyStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("active", "Active"), ("revoked", "Revoked"), ("expired", "Expired")]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "active":
            return queryset.filter(revoked_at__isnull=True, expires_at__gt=now)
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        if self.value() == "expired":
            return queryset.filter(revoked_at__isnull=True, expires_at__lte=now)
        return queryset


@admin.register(APIKey)
class APIKeyAdmin(admin.ModelAdmin):
    """Keys are made by their owners or operators; staff can read and revoke them here."""

    list_display = [
        "prefix",
        "name",
        "owner",
        "scopes",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
    ]
    list_filter = [KeyStateFilter]
    search_fields = ["=prefix", "owner__username", "name"]
    list_select_related = ["owner"]
    ordering = ["-created_at"]
    # The secret's hash is not shown either: nothing here can be used to call the API.
    fields = [
        "prefix",
        "name",
        "owner",
        "scopes",
        "rate_limit",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
    ]
    readonly_fields = fields
    actions = ["revoke_selected"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # revoke instead: the record stays for the audit trail

    @admin.action(description="Revoke selected keys")
    def revoke_selected(self, request, queryset):
        meta = RequestMeta.from_request(request)
        count = 0
        for key in queryset.filter(revoked_at__isnull=True):
            services.apikey_revoke(key=key, meta=meta, reason="staff")
            count += 1
        self.message_user(request, f"Revoked {count} key(s).", messages.SUCCESS)
