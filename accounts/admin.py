"""Staff run Gatehouse here. Every change goes through accounts.services, like the API."""

from urllib.parse import urlencode

from axes.admin import AccessAttemptAdmin, AccessFailureLogAdmin, AccessLogAdmin
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django import forms
from django.contrib import admin, messages
from django.contrib.auth.hashers import identify_hasher
from django.db.models import Q
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST
from django_tasks_db.admin import DBTaskResultAdmin  # registers the queue's admin, replaced below
from django_tasks_db.models import DBTaskResult
from rest_framework_simplejwt.token_blacklist import admin as simplejwt_admin
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from accounts import selectors
from accounts.mail import password_reset_link
from accounts.models import RevokeReason, Session, User
from accounts.services.lockouts import (
    lockout_clear,
)
from accounts.services.passwords import password_reset_request
from accounts.services.sessions import (
    session_end_for_blacklisted_token,
    session_revoke,
    session_revoke_all,
)
from accounts.services.users import user_admin_update, user_set_active
from core.errors import ServiceError
from core.pagination import EstimatedCountPaginator
from core.request import RequestMeta, canonical_ip


class UserChangeForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ["full_name", "role", "is_active"]


class LockedFilter(admin.SimpleListFilter):
    title = "locked out"
    parameter_name = "locked"

    def lookups(self, request, model_admin):
        return [("yes", "Locked"), ("no", "Not locked")]

    def queryset(self, request, queryset):
        if self.value() not in ("yes", "no"):
            return queryset
        locked_ids = selectors.user_list(locked=True).values("pk")
        return (
            queryset.filter(pk__in=locked_ids)
            if self.value() == "yes"
            else queryset.exclude(pk__in=locked_ids)
        )


# The user's page lists this many of their newest sessions; the rest are a link away.
SESSION_INLINE_LIMIT = 20


class SessionInline(admin.TabularInline):
    """The user's newest SESSION_INLINE_LIMIT sessions: an account with thousands of logins
    (a kiosk, a script) must not make its page render thousands of rows."""

    model = Session
    fields = ["device", "ip_address", "created_at", "last_used_at", "expires_at", "state"]
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    ordering = ["-created_at"]
    verbose_name_plural = (
        f"Newest {SESSION_INLINE_LIMIT} sessions (all of them under “Sessions” above; revoke on the "
        "Sessions page or with “Revoke all sessions”)"
    )

    def get_formset(self, request, obj=None, **kwargs):
        request._gatehouse_inline_user = obj  # per request: the inline object is shared
        return super().get_formset(request, obj, **kwargs)

    def get_queryset(self, request):
        sessions = super().get_queryset(request)
        user = getattr(request, "_gatehouse_inline_user", None)
        if user is None:
            return sessions.none()
        newest = Session.objects.filter(user=user).order_by("-created_at").values_list("pk", flat=True)
        return sessions.filter(pk__in=list(newest[:SESSION_INLINE_LIMIT]))

    @admin.display(description="device")
    def device(self, session: Session) -> str:
        return session.user_agent[:80] or "-"

    @admin.display(description="state")
    def state(self, session: Session) -> str:
        if session.pk is None or session.expires_at is None:
            return "-"
        if session.revoked_at:
            return f"revoked ({session.get_revoked_reason_display()})"
        return "live" if session.is_live() else "expired"


@admin.register(User)
class UserAdmin(admin.ModelAdmin):
    form = UserChangeForm
    list_display = [
        "username",
        "email",
        "full_name",
        "role",
        "is_active",
        "locked",
        "last_login",
        "date_joined",
    ]
    list_filter = ["role", "is_active", LockedFilter]
    search_fields = ["username", "email", "full_name"]
    readonly_fields = [
        "username",
        "email",
        "password_summary",
        "last_login",
        "date_joined",
        "locked_status",
        "sessions",
        "history",
    ]
    fieldsets = [
        (None, {"fields": ["username", "email", "password_summary", "full_name"]}),
        ("Access", {"fields": ["role", "is_active", "locked_status", "sessions"]}),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
        ("What happened", {"fields": ["history"]}),
    ]
    inlines = [SessionInline]
    ordering = ["-date_joined"]
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    actions = ["unlock_selected", "revoke_sessions_selected", "send_password_reset", "deactivate_selected"]
    change_form_template = "admin/accounts/user/change_form.html"

    def has_add_permission(self, request) -> bool:
        return False  # accounts are made by registration or `manage.py create_user`

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # deactivate instead; the admin API can delete (audited, last-admin safe)

    def get_queryset(self, request):
        # The "locked" column and filter come from one subquery, not a query per row.
        return selectors.with_locked(super().get_queryset(request))

    @admin.display(boolean=True, description="locked", ordering="is_locked")
    def locked(self, user: User) -> bool:
        return user.is_locked

    @admin.display(description="password")
    def password_summary(self, user: User) -> str:
        if not user.has_usable_password():
            return "No password: this account signs in with API keys only."
        try:
            summary = identify_hasher(user.password).safe_summary(user.password)
        except ValueError:
            return "Unknown hash format."
        parts = ", ".join(f"{k}: {v}" for k, v in summary.items())
        return f"{parts}. Only this summary is shown; use “Send password reset” to help a user."

    @admin.display(description="locked out")
    def locked_status(self, user: User) -> str:
        return "yes: use “Unlock” above" if selectors.user_is_locked(user=user) else "no"

    @admin.display(description="sessions")
    def sessions(self, user: User):
        live = selectors.session_count_live(user_id=user.pk)
        url = reverse("admin:accounts_session_changelist") + "?" + urlencode({"q": user.username})
        return format_html('{} live; <a href="{}">every session of {}</a>', live, url, user.username)

    @admin.display(description="audit log")
    def history(self, user: User):
        url = reverse("admin:audit_auditevent_changelist") + f"?q={user.username}"
        return format_html('<a href="{}">Every audit event for {}</a>', url, user.username)

    def save_model(self, request, obj, form, change):
        changes = {
            field: form.cleaned_data[field] for field in form.changed_data if field in form.Meta.fields
        }
        try:
            user_admin_update(user_id=obj.pk, meta=RequestMeta.from_request(request), **changes)
        except ServiceError as exc:
            request._gatehouse_refused = True  # per request: the admin object is shared
            messages.error(request, _error_text(exc))

    def response_change(self, request, obj):
        if getattr(request, "_gatehouse_refused", False):
            return HttpResponseRedirect(request.path)
        return super().response_change(request, obj)

    # --- actions -------------------------------------------------------------------

    @admin.action(description="Unlock selected users (clear failed logins)")
    def unlock_selected(self, request, queryset):
        meta = RequestMeta.from_request(request)
        for user in queryset:
            lockout_clear(user=user, meta=meta)
        self.message_user(request, f"Unlocked {queryset.count()} user(s).", messages.SUCCESS)

    @admin.action(description="Revoke all sessions of selected users")
    def revoke_sessions_selected(self, request, queryset):
        meta = RequestMeta.from_request(request)
        total = sum(session_revoke_all(user=u, reason=RevokeReason.ADMIN, meta=meta) for u in queryset)
        self.message_user(request, f"Revoked {total} session(s).", messages.SUCCESS)

    @admin.action(description="Send password reset email")
    def send_password_reset(self, request, queryset):
        meta = RequestMeta.from_request(request)
        for user in queryset:
            password_reset_request(email=user.email, reset_url=password_reset_link, meta=meta)
        self.message_user(request, f"Sent reset links to {queryset.count()} user(s) with usable passwords.")

    @admin.action(description="Deactivate selected users (ends their sessions)")
    def deactivate_selected(self, request, queryset):
        meta = RequestMeta.from_request(request)
        done = 0
        for user in queryset:
            try:
                user_set_active(user_id=user.pk, is_active=False, meta=meta)
                done += 1
            except ServiceError as exc:
                messages.error(request, f"{user.username}: {_error_text(exc)}")
        self.message_user(request, f"Deactivated {done} user(s).", messages.SUCCESS)

    # --- the Unlock button on a user's page ---------------------------------------

    def get_urls(self):
        urls = [
            path(
                "<int:user_id>/unlock/",
                self.admin_site.admin_view(require_POST(self.unlock_view)),
                name="accounts_user_unlock",
            ),
        ]
        return urls + super().get_urls()

    def unlock_view(self, request, user_id: int):
        user = get_object_or_404(User, pk=user_id)
        cleared = lockout_clear(user=user, meta=RequestMeta.from_request(request))
        self.message_user(
            request, f"Unlocked {user.username} ({cleared} failed-login records cleared).", messages.SUCCESS
        )
        return HttpResponseRedirect(reverse("admin:accounts_user_change", args=[user.pk]))


def _error_text(exc: ServiceError) -> str:
    return " ".join(m for messages_ in (exc.errors or {}).values() for m in messages_) or exc.message


@admin.register(Session)
class SessionAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "user",
        "user_agent",
        "ip_address",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    ]
    list_filter = ["revoked_reason", "remember_me"]
    search_fields = ["user__username", "ip_address"]  # see get_search_results
    search_help_text = "Exact username (any case) or IP address."
    list_select_related = ["user"]
    ordering = ["-created_at"]
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    readonly_fields = [f.name for f in Session._meta.fields if f.name != "refresh_jti"]
    exclude = ["refresh_jti"]
    actions = ["revoke_selected"]

    def get_search_results(self, request, queryset, search_term):
        # Index lookups only: the username through its unique LOWER() index, then the user's
        # sessions through theirs; Django's "=" search (UPPER(col) = UPPER(term)) uses neither.
        term = search_term.strip()
        if not term:
            return queryset, False
        match = Q(user__in=selectors.users_named(term).values("pk"))
        address = canonical_ip(term)  # PostgreSQL's spelling; a zone id (`%eth0`) dropped
        if address is not None:
            match |= Q(ip_address=address)
        return queryset.filter(match), False

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return request.method == "GET"  # viewable, never edited

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description="Revoke selected sessions")
    def revoke_selected(self, request, queryset):
        meta = RequestMeta.from_request(request)
        live = queryset.filter(revoked_at__isnull=True).select_related("user")
        count = 0
        for session in live:
            session_revoke(user=session.user, session_id=session.pk, reason=RevokeReason.ADMIN, meta=meta)
            count += 1
        self.message_user(request, f"Revoked {count} session(s).", messages.SUCCESS)


# simplejwt's admin lets staff blacklist a refresh token; make that click end the session it
# belongs to at once (the refresh path refuses a blacklisted token in any case).
admin.site.unregister(BlacklistedToken)


# simplejwt's token pages order by user (a sort of every row), count every row and search with
# "contains" on ids and jtis (a scan): newest first, estimated counts and exact lookups instead.
admin.site.unregister(OutstandingToken)


def _token_search(term: str, prefix: str = "") -> Q | None:
    """Exact jti, or a user's exact id or username (any case): index lookups."""
    term = term.strip()
    if not term:
        return None
    match = Q(**{f"{prefix}jti": term}) | Q(**{f"{prefix}user__in": selectors.users_named(term).values("pk")})
    if term.isdigit() and len(term) < 19:
        match |= Q(**{f"{prefix}user_id": int(term)})
    return match


@admin.register(OutstandingToken)
class OutstandingTokenAdmin(simplejwt_admin.OutstandingTokenAdmin):
    ordering = ["-id"]
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    search_help_text = "Exact jti, user id or username."

    def get_search_results(self, request, queryset, search_term):
        match = _token_search(search_term)
        return (queryset if match is None else queryset.filter(match)), False


@admin.register(BlacklistedToken)
class BlacklistedTokenAdmin(simplejwt_admin.BlacklistedTokenAdmin):
    raw_id_fields = ["token"]
    ordering = ["-id"]
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    search_help_text = "Exact jti, user id or username."

    def get_search_results(self, request, queryset, search_term):
        match = _token_search(search_term, prefix="token__")
        return (queryset if match is None else queryset.filter(match)), False

    def save_model(self, request, obj, form, change):
        session_end_for_blacklisted_token(
            outstanding_token_id=obj.token_id, meta=RequestMeta.from_request(request)
        )
        obj.pk = BlacklistedToken.objects.get(token_id=obj.token_id).pk


# The task queue's own admin shows each task's arguments, and a queued mail's body is a
# password-reset link for someone else's account: staff see states, times and errors only.
admin.site.unregister(DBTaskResult)


@admin.register(DBTaskResult)
class TaskResultAdmin(DBTaskResultAdmin):
    def get_readonly_fields(self, request, obj=None):
        hidden = {"args_kwargs", "return_value"}
        return [name for name in super().get_readonly_fields(request, obj) if name not in hidden]


# django-axes' records, read-only (AXES_ENABLE_ADMIN is off, so axes registers nothing): no
# add, change, delete or bulk action. Only the audited unlock (the user's "Unlock", the admin
# API, `manage.py unlock_user`) clears them.
class _ReadOnly:
    actions = None

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(AccessAttempt)
class ReadOnlyAccessAttemptAdmin(_ReadOnly, AccessAttemptAdmin):
    pass


@admin.register(AccessFailureLog)
class ReadOnlyAccessFailureLogAdmin(_ReadOnly, AccessFailureLogAdmin):
    pass


@admin.register(AccessLog)
class ReadOnlyAccessLogAdmin(_ReadOnly, AccessLogAdmin):
    pass
