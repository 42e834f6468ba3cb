from accounts.api import admin_views, views
from core.routing import route

# Django tries the patterns in order (none of them overlap): the hot paths first.
urlpatterns = [
    route("auth/me", views.MeView, "auth-me"),
    route("auth/refresh", views.RefreshView, "auth-refresh"),
    route("auth/verify", views.VerifyView, "auth-verify"),
    route("auth/login", views.LoginView, "auth-login"),
    route("auth/register", views.RegisterView, "auth-register"),
    route("auth/login/mfa", views.LoginMfaView, "auth-login-mfa"),
    route("auth/mfa/totp/setup", views.TotpSetupView, "auth-mfa-totp-setup"),
    route("auth/mfa/totp/confirm", views.TotpConfirmView, "auth-mfa-totp-confirm"),
    route("auth/mfa/totp", views.TotpView, "auth-mfa-totp"),
    route("auth/mfa/recovery-codes", views.RecoveryCodesView, "auth-mfa-recovery-codes"),
    route("auth/verify-email", views.VerifyEmailView, "auth-verify-email"),
    route("auth/verify-email/resend", views.VerifyEmailResendView, "auth-verify-email-resend"),
    route("auth/profile", views.MeView, "auth-profile"),
    route("auth/logout", views.LogoutView, "auth-logout"),
    route("auth/logout-all", views.LogoutAllView, "auth-logout-all"),
    route("auth/change-password", views.ChangePasswordView, "auth-change-password"),
    route("auth/sessions", views.SessionListView, "auth-sessions"),
    route(
        r"auth/sessions/(?P<session_id>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})",
        views.SessionDetailView,
        "auth-session-detail",
    ),
    route("auth/password-reset", views.PasswordResetView, "auth-password-reset"),
    route("auth/password-reset/confirm", views.PasswordResetConfirmView, "auth-password-reset-confirm"),
    route("admin/users", admin_views.AdminUserListView, "admin-users"),
    route(r"admin/users/(?P<user_id>[0-9]{1,18})", admin_views.AdminUserDetailView, "admin-user-detail"),
    route(
        r"admin/users/(?P<user_id>[0-9]{1,18})/unlock", admin_views.AdminUserUnlockView, "admin-user-unlock"
    ),
    route(
        r"admin/users/(?P<user_id>[0-9]{1,18})/revoke-sessions",
        admin_views.AdminUserRevokeSessionsView,
        "admin-user-revoke-sessions",
    ),
    route("admin/stats", admin_views.AdminStatsView, "admin-stats"),
    route("admin/cleanup", admin_views.AdminCleanupView, "admin-cleanup"),
    route("admin/audit-logs", admin_views.AuditLogListView, "admin-audit-logs"),
]
