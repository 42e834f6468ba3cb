from django import forms
from django.contrib import admin, messages

from accounts import services
from accounts.client import RequestMeta
from accounts.models import Session, User


class UserChangeForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ["full_name", "role"]


@admin.register(User)
class UserAdmin(admin.ModelAdmin):
    form = UserChangeForm
    list_display = ["username", "email", "full_name", "role", "is_active", "last_login", "date_joined"]
    list_filter = ["role", "is_active"]
    search_fields = ["username", "email", "full_name"]
    readonly_fields = ["username", "email", "is_active", "last_login", "date_joined"]
    ordering = ["-date_joined"]

    actions = ["unlock_selected"]

    def has_add_permission(self, request) -> bool:
        return False  # accounts are made by registration or `manage.py create_user`

    @admin.action(description="Unlock selected users (clear failed logins)")
    def unlock_selected(self, request, queryset):
        meta = RequestMeta.from_request(request)
        for user in queryset:
            services.lockout_clear(user=user, meta=meta)
        self.message_user(request, f"Unlocked {queryset.count()} user(s).", messages.SUCCESS)

    def save_model(self, request, obj, form, change):
        meta = RequestMeta.from_request(request)
        if "full_name" in form.changed_data:
            services.user_profile_update(user=obj, full_name=obj.full_name, meta=meta)
        if "role" in form.changed_data:
            services.user_set_role(user=obj, role=obj.role, meta=meta)


@admin.register(Session)
class SessionAdmin(admin.ModelAdmin):
    list_display = ["id", "user", "created_at", "last_used_at", "expires_at", "revoked_at", "ip_address"]
    list_filter = ["revoked_reason"]
    search_fields = ["user__username", "ip_address"]
    list_select_related = ["user"]
    readonly_fields = [f.name for f in Session._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
