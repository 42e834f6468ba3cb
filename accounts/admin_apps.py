from django.contrib.admin.apps import AdminConfig


class GatehouseAdminConfig(AdminConfig):
    """django.contrib.admin with Gatehouse's site (MFA at login, enrolment first)."""

    default_site = "accounts.admin_site.GatehouseAdminSite"
