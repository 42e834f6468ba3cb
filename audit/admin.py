import ipaddress

from django.contrib import admin
from django.db.models import Q

from audit.models import AuditEvent
from core.pagination import EstimatedCountPaginator


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: the trail can be read and searched, never changed here."""

    list_display = [
        "id",
        "timestamp",
        "event",
        "outcome",
        "actor_kind",
        "actor_label",
        "target_label",
        "ip_address",
    ]
    list_filter = ["event", "outcome", "actor_kind", ("timestamp", admin.DateFieldListFilter)]
    # Exact, case-sensitive matches (see get_search_results): index lookups on a million rows.
    search_fields = ["actor_label", "target_label", "ip_address", "request_id"]
    search_help_text = "Exact username, IP address or request id."
    ordering = ["-id"]
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    list_per_page = 50
    readonly_fields = [f.name for f in AuditEvent._meta.fields]

    def get_search_results(self, request, queryset, search_term):
        # Django's "=" search is iexact (UPPER(col) = UPPER(term)), which no index serves.
        term = search_term.strip()
        if not term:
            return queryset, False
        match = Q(actor_label=term) | Q(target_label=term) | Q(request_id=term)
        try:
            match |= Q(ip_address=str(ipaddress.ip_address(term)))
        except ValueError:
            pass
        return queryset.filter(match), False

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
