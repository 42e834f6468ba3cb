import ipaddress

from django.contrib import admin
from django.core.paginator import Paginator
from django.db import connection
from django.utils.functional import cached_property

from audit.models import AuditEvent


class EstimatedCountPaginator(Paginator):
    """Unfiltered, PostgreSQL's row estimate instead of a COUNT(*) over millions of rows."""

    @cached_property
    def count(self) -> int:
        query = self.object_list.query
        if connection.vendor == "postgresql" and not query.where:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT reltuples::bigint FROM pg_class WHERE relname = %s", [AuditEvent._meta.db_table]
                )
                row = cursor.fetchone()
            if row and row[0] > 10000:
                return int(row[0])
        return super().count


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: the trail can be read and searched, never changed here."""

    list_display = [
        "seq",
        "timestamp",
        "event",
        "outcome",
        "actor_kind",
        "actor_label",
        "target_label",
        "ip_address",
    ]
    list_filter = ["event", "outcome", "actor_kind", ("timestamp", admin.DateFieldListFilter)]
    # Exact matches only, so each search is an index lookup on a million rows.
    search_fields = ["=actor_label", "=target_label", "=ip_address", "=request_id"]
    search_help_text = "Exact username, IP address or request id."
    ordering = ["-seq"]
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    list_per_page = 50
    readonly_fields = [f.name for f in AuditEvent._meta.fields]

    def get_search_fields(self, request):
        # An IP column cannot be compared with text that is not an address (PostgreSQL errors).
        term = request.GET.get("q", "").strip()
        try:
            ipaddress.ip_address(term)
        except ValueError:
            return [f for f in self.search_fields if f != "=ip_address"]
        return self.search_fields

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
