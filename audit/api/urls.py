from accounts.api.urls import route
from audit.api import views

urlpatterns = [
    route("admin/audit-logs", views.AuditLogListView, "admin-audit-logs"),
]
